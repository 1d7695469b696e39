using System.Text.Json;
using Tessera.Hostile;

// Hostile-load tool: 100 legitimate chat clients, measured during a quiet baseline and then during each of five
// attacks, one at a time, against the product server (src/Tessera.Server) on loopback. bench/hostile.sh builds,
// starts the server with a fresh data directory, starts this tool's `run` and each `attack` in turn, and prints the
// table; docs/reliability.md ("Hostile load") has the figures.
//
//   dotnet Tessera.Hostile.dll run --url http://127.0.0.1:3950 --pid <server pid> [--clients 100] [--rate 2]
//       [--rooms 10] [--tokens-file f] [--json results.jsonl] [--markdown table.md]
//       then on standard input: "begin NAME", "end NAME [attack figures file]", … "quit" (each answered on stdout)
//   dotnet Tessera.Hostile.dll attack <handshake|connect|slowloris|ping|event> --url … --seconds 20
//       [--concurrency N] [--connections 10000] [--drip-seconds 5] [--max-operations N] [--tokens-file f]
//   dotnet Tessera.Hostile.dll attack serve --url … [--tokens-file f]
//       then on standard input: "KIND [--seconds 20] [--connections N] …" per attack (each answered with its
//       figures, one JSON line), "quit"
//
// Loopback only: --url must be 127.x.y.z; the legitimate clients come from 127.0.0.1, the attacks from 127.0.0.2
// (--attacker), so the server's per-address limits treat the attacker as the stranger it is. Every loop is bounded
// in time (--seconds) and in count.
if (args.Length == 0 || args[0] is not ("run" or "attack"))
{
    Console.Error.WriteLine("usage: Tessera.Hostile run --url http://127.0.0.1:PORT --pid PID [options] | attack <kind> [options]");
    return 2;
}
var options = new Options(args);
if (args[0] == "attack")
{
    var tokens = options.Get("tokens-file", "") is { Length: > 0 } file && File.Exists(file) ? File.ReadAllLines(file).Where(l => l.Length > 0).ToArray() : [];
    if (args.Length > 1 && args[1] != "serve")
    {
        Console.WriteLine(JsonSerializer.Serialize(await Attacks.RunAsync(args[1], options, tokens)));
        return 0;
    }
    // `attack serve`: one long-lived attacker that runs the attacks it is given on standard input, one line each —
    // "KIND [--seconds S] [--connections N] …" (options as on the command line) — and answers each with its
    // figures (one JSON line); "quit" or end of input ends it, as does no line for 5 minutes.
    Console.WriteLine("ready");
    while (true)
    {
        string? line;
        try
        {
            line = await Console.In.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(5));
        }
        catch (TimeoutException)
        {
            return 0;
        }
        var words = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? ["quit"];
        if (words.Length == 0)
        {
            continue;
        }
        if (words[0] == "quit")
        {
            return 0;
        }
        if (options.Get("tokens-file", "") is { Length: > 0 } again && tokens.Length == 0 && File.Exists(again))
        {
            tokens = File.ReadAllLines(again).Where(l => l.Length > 0).ToArray();
        }
        AttackFigures figures;
        try
        {
            figures = await Attacks.RunAsync(words[0], new Options([.. args, .. words[1..]]), tokens);
        }
        catch (Exception ex)
        {
            figures = new AttackFigures(words[0], 0, "failed: " + ex.Message, []);
        }
        Console.WriteLine(JsonSerializer.Serialize(figures));
        Console.Out.Flush();
        // What the attack left behind (its sockets, closed by now) is collected before the next one starts.
        GC.Collect();
    }
}
return await Runner.RunAsync(options);
