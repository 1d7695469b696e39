using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace Tessera.Tests.Shared;

/// <summary>Runs a script of tests/interop (official Node clients) and returns its JSON summary.</summary>
public static class NodeInterop
{
    public static string InteropDirectory { get; } = FindInteropDirectory();

    private static string FindInteropDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tessera.slnx")))
            {
                return Path.Combine(dir.FullName, "tests", "interop");
            }
        }
        throw new InvalidOperationException("Cannot find the repository root (Tessera.slnx) above " + AppContext.BaseDirectory);
    }

    public static Task<JsonElement> RunAsync(string script, params string[] args) => RunAsync(script, args, null);

    /// <summary>Runs the script; <paramref name="onLine"/> sees each stdout line as it comes (for scripts that
    /// ask the test to act mid-run, e.g. restart the server).</summary>
    public static Task<JsonElement> RunAsync(string script, string[] args, Func<string, Task>? onLine, IDictionary<string, string>? environment = null)
    {
        if (!Directory.Exists(Path.Combine(InteropDirectory, "node_modules")))
        {
            throw new InvalidOperationException($"Run `npm ci` in {InteropDirectory} first (bash scripts/test.sh does it).");
        }
        return RunProcessAsync("node", [script, .. args], onLine, environment);
    }

    /// <summary>Runs any interop client (node, /usr/bin/python3 …) in tests/interop; it must exit 0 and print a
    /// JSON summary as its last stdout line, which is returned.</summary>
    public static async Task<JsonElement> RunProcessAsync(string fileName, string[] args, Func<string, Task>? onLine = null, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = InteropDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = ReadLinesAsync(process.StandardOutput, onLine);
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not finish in 60 s");
        }
        var output = await stdout;
        var errors = await stderr;
        Assert.True(process.ExitCode == 0, $"{fileName} {string.Join(' ', args)} failed ({process.ExitCode}):\n{errors}\n{output}");
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
        return JsonDocument.Parse(last).RootElement;
    }

    private static async Task<string> ReadLinesAsync(StreamReader reader, Func<string, Task>? onLine)
    {
        var all = new System.Text.StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            all.Append(line).Append('\n');
            if (onLine is not null)
            {
                await onLine(line);
            }
        }
        return all.ToString();
    }
}
