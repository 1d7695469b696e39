using SharpFuzz;
using Tessera.Fuzz;

// Tessera.Fuzz <target>               under afl-fuzz: the SharpFuzz fork server, one input per run on stdin
//                                     (outside afl-fuzz: runs stdin through the target once)
// Tessera.Fuzz <target> <file|dir>... runs the files once each, without AFL (to reproduce a crash)
if (args.Length == 0 || !FuzzTargets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: Tessera.Fuzz <target> [file|dir ...]; targets: {string.Join(", ", FuzzTargets.All.Keys)}");
    return 2;
}
if (args.Length > 1)
{
    var failed = 0;
    foreach (var file in args.Skip(1).SelectMany(a => Directory.Exists(a) ? Directory.GetFiles(a) : [a]).Order(StringComparer.Ordinal))
    {
        try
        {
            target(File.ReadAllBytes(file));
            Console.WriteLine($"ok    {file}");
        }
        catch (Exception ex)
        {
            failed++;
            Console.WriteLine($"FAIL  {file}: {ex}");
        }
    }
    return failed == 0 ? 0 : 1;
}
Fuzzer.OutOfProcess.Run(stream => target(FuzzInput.ReadAll(stream)));
return 0;
