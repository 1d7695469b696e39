using System.Diagnostics;
using System.Text.Json;

namespace Tessera.EngineIO.Tests;

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

    public static async Task<JsonElement> RunAsync(string script, params string[] args)
    {
        if (!Directory.Exists(Path.Combine(InteropDirectory, "node_modules")))
        {
            throw new InvalidOperationException($"Run `npm ci` in {InteropDirectory} first (.ci/run does it).");
        }
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = InteropDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"node {script} {string.Join(' ', args)} did not finish in 60 s");
        }
        var output = await stdout;
        var errors = await stderr;
        Assert.True(process.ExitCode == 0, $"node {script} {string.Join(' ', args)} failed ({process.ExitCode}):\n{errors}\n{output}");
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
        return JsonDocument.Parse(last).RootElement;
    }
}
