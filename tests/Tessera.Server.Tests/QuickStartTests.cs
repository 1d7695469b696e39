using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Tessera.Server.Tests;

/// <summary>
/// CONTRACT §7: the README's first C# block calling AddSocketIO is samples/QuickStart/Program.cs, and that app,
/// a new web project referencing the packed Tessera packages by id, builds and serves the official client as shown.
/// </summary>
public class QuickStartTests
{
    // The defaults Program.cs uses when Jwt:Issuer / Jwt:Audience are not configured.
    private const string Issuer = "https://auth.example.com";
    private const string Audience = "my-app";
    private const string Secret = "quickstart-test-secret-of-at-least-32-bytes";

    private static readonly string Root = Path.GetFullPath(Path.Combine(NodeInterop.InteropDirectory, "..", ".."));
    private static readonly string QuickStartDirectory = Path.Combine(Root, "samples", "QuickStart");
    private static readonly string PackagesDirectory = Path.Combine(Root, "artifacts", "packages");
    private static readonly string OutputDirectory = Path.Combine(Root, "artifacts", "quickstart-app");

    private static string Normalise(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal);

    /// <summary>The body of the README's first ```csharp block that mentions AddSocketIO, each line ending in \n.</summary>
    private static string? FirstReadmeBlockCallingAddSocketIO()
    {
        var lines = Normalise(File.ReadAllText(Path.Combine(Root, "README.md"))).Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].TrimEnd() != "```csharp")
            {
                continue;
            }
            var block = new StringBuilder();
            for (i++; i < lines.Length && lines[i].TrimEnd() != "```"; i++)
            {
                block.Append(lines[i]).Append('\n');
            }
            if (block.ToString().Contains("AddSocketIO", StringComparison.Ordinal))
            {
                return block.ToString();
            }
        }
        return null;
    }

    [Fact]
    public void Readme_first_AddSocketIO_block_is_the_QuickStart_Program_cs()
    {
        var block = FirstReadmeBlockCallingAddSocketIO();
        Assert.True(block is not null, "README.md has no ```csharp block calling AddSocketIO");
        var program = Normalise(File.ReadAllText(Path.Combine(QuickStartDirectory, "Program.cs")));
        Assert.Equal(program, block);
    }

    [Fact]
    public async Task QuickStart_builds_from_the_packages_and_serves_the_official_client_as_the_README_shows()
    {
        var version = PackedVersion();

        // Directory.Build.props/.targets of the QuickStart restore from artifacts/packages into their own packages
        // folder, forgetting the tessera.* packages cached there first: what is built is what was just packed.
        // --no-incremental: the output is rebuilt even if the package assemblies kept their timestamps.
        var (buildExit, buildOutput) = await RunAsync("dotnet", TimeSpan.FromMinutes(4), environment: null,
            "build", Path.Combine(QuickStartDirectory, "QuickStart.csproj"), "-c", "Release", "--no-incremental",
            "--disable-build-servers", "-nologo", "-clp:ErrorsOnly", "-p:TesseraVersion=" + version, "-o", OutputDirectory);
        Assert.True(buildExit == 0, $"samples/QuickStart did not build against the Tessera {version} packages in {PackagesDirectory}:\n{buildOutput}");
        var dll = Path.Combine(OutputDirectory, "QuickStart.dll");
        foreach (var id in new[] { "Tessera.EngineIO", "Tessera.SocketIO", "Tessera.Auth" })
        {
            // Not a stale copy of an earlier pack with the same version.
            using var package = ZipFile.OpenRead(Path.Combine(PackagesDirectory, $"{id}.{version}.nupkg"));
            using var packed = new MemoryStream();
            await using (var entry = package.GetEntry($"lib/net10.0/{id}.dll")!.Open())
            {
                await entry.CopyToAsync(packed);
            }
            var built = await File.ReadAllBytesAsync(Path.Combine(OutputDirectory, id + ".dll"));
            Assert.True(packed.ToArray().SequenceEqual(built),
                $"the QuickStart was built with a {id}.dll other than the one in artifacts/packages/{id}.{version}.nupkg");
        }

        // Without a usable secret it says so and stops.
        var (shortExit, shortOutput) = await RunAsync("dotnet", TimeSpan.FromSeconds(30),
            new Dictionary<string, string> { ["Jwt__Secret"] = "too-short" }, dll, "--urls", "http://127.0.0.1:0");
        Assert.Equal(1, shortExit);
        Assert.Contains("at least 32 bytes", shortOutput, StringComparison.Ordinal);

        var url = $"http://127.0.0.1:{ServerProcess.FreePort()}";
        using var app = await StartAsync(dll, url);
        try
        {
            var sub = "user-" + Guid.NewGuid().ToString("N")[..8];
            var result = await NodeInterop.RunAsync("quickstart.mjs", [url], null, new Dictionary<string, string>
            {
                ["TESSERA_TOKEN"] = Token(sub),
                ["TESSERA_SUB"] = sub,
            });
            Assert.True(result.GetProperty("ok").GetBoolean(), result.ToString());
            Assert.Equal(sub, result.GetProperty("whoami").GetProperty("sub").GetString());
            Assert.Equal("Authentication error: Token missing", result.GetProperty("refusal").GetProperty("message").GetString());
        }
        finally
        {
            app.Process.Kill(entireProcessTree: true);
            await app.Process.WaitForExitAsync();
        }
    }

    /// <summary>The version of the Tessera.SocketIO package packed last into artifacts/packages.</summary>
    private static string PackedVersion()
    {
        const string message = "no Tessera packages in artifacts/packages: run `bash scripts/test.sh` (it packs them), or "
            + "`dotnet pack Tessera.slnx -c Release -o artifacts/packages`, before this test";
        Assert.True(Directory.Exists(PackagesDirectory) && Directory.EnumerateFiles(PackagesDirectory, "*.nupkg").Any(), message);
        var newest = new DirectoryInfo(PackagesDirectory).GetFiles("Tessera.SocketIO.*.nupkg")
            .Select(f => (File: f, Version: f.Name["Tessera.SocketIO.".Length..^".nupkg".Length]))
            .Where(p => p.Version.Length > 0 && char.IsAsciiDigit(p.Version[0]))
            .OrderByDescending(p => p.File.LastWriteTimeUtc)
            .FirstOrDefault();
        Assert.True(newest.File is not null, message + " (Tessera.SocketIO is missing)");
        Assert.True(File.Exists(Path.Combine(PackagesDirectory, $"Tessera.Auth.{newest.Version}.nupkg")), message + $" (Tessera.Auth {newest.Version} is missing)");
        return newest.Version;
    }

    /// <summary>An access token as an identity provider would issue it for this app: HS256, iss, aud, typ at+jwt.</summary>
    private static string Token(string sub) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Claims = new Dictionary<string, object> { ["sub"] = sub },
        Issuer = Issuer,
        Audience = Audience,
        Expires = DateTime.UtcNow.AddMinutes(5),
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(Secret)), SecurityAlgorithms.HmacSha256),
        TokenType = "at+jwt",
    });

    private sealed class RunningApp(Process process) : IDisposable
    {
        public Process Process { get; } = process;

        public StringBuilder Output { get; } = new();

        public void Dispose() => Process.Dispose();
    }

    /// <summary>Starts the app with the secret in its environment; returns once it logs "Now listening on: {url}".</summary>
    private static async Task<RunningApp> StartAsync(string dll, string url)
    {
        var start = StartInfo("dotnet", new Dictionary<string, string> { ["Jwt__Secret"] = Secret }, dll, "--urls", url);
        var app = new RunningApp(Process.Start(start)!);
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Collect(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (app.Output)
            {
                app.Output.AppendLine(line);
            }
            if (line.Contains("Now listening on: " + url, StringComparison.Ordinal))
            {
                listening.TrySetResult();
            }
        }
        app.Process.OutputDataReceived += (_, e) => Collect(e.Data);
        app.Process.ErrorDataReceived += (_, e) => Collect(e.Data);
        app.Process.BeginOutputReadLine();
        app.Process.BeginErrorReadLine();
        var exited = app.Process.WaitForExitAsync();
        if (await Task.WhenAny(listening.Task, exited, Task.Delay(TimeSpan.FromSeconds(30))) != listening.Task)
        {
            app.Process.Kill(entireProcessTree: true);
            await exited;
            string output;
            lock (app.Output)
            {
                output = app.Output.ToString();
            }
            app.Dispose();
            throw new InvalidOperationException($"samples/QuickStart did not start listening on {url} within 30 s:\n{output}");
        }
        return app;
    }

    private static ProcessStartInfo StartInfo(string fileName, IDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = QuickStartDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // `dotnet test` runs under MSBuild, which leaves its own paths in the environment; a nested build of an
        // unrelated project must find its SDK afresh.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        return start;
    }

    /// <summary>Runs a process to completion within <paramref name="timeout"/>: exit code and stdout + stderr.</summary>
    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, TimeSpan timeout, IDictionary<string, string>? environment, params string[] args)
    {
        using var process = Process.Start(StartInfo(fileName, environment, args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not finish within {timeout}");
        }
        // Bounded too: a process left behind holding the pipes would keep them open.
        var output = await stdout.WaitAsync(TimeSpan.FromSeconds(30)) + await stderr.WaitAsync(TimeSpan.FromSeconds(30));
        return (process.ExitCode, output);
    }
}
