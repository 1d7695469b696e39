using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace Tessera.Server.Tests;

/// <summary>
/// The JavaScript client package (clients/js, npm <c>tessera-client</c>) against the real server binary: its Node tests
/// (<c>node --test clients/js/test/*.test.mjs</c>, official socket.io-client) and its Chromium test (cookie flow, one
/// refresh across tabs). Access tokens live 4 s and <c>auth:expiring</c> comes 2 s before <c>exp</c> (clock skew 0), so a
/// refresh is due every ~2 s and an idle token has expired after ~4–5 s.
/// </summary>
internal static class JsClientPackage
{
    private static readonly SemaphoreSlim BuildLock = new(1, 1);

    public static string Directory { get; } = Path.GetFullPath(Path.Combine(NodeInterop.InteropDirectory, "..", "..", "clients", "js"));

    public static string[] ServerArguments { get; } =
    [
        "--Tessera:Auth:AccessTokenLifetime=00:00:04",
        "--Tessera:Auth:ExpiryWarning=00:00:02",
        "--Tessera:Auth:ClockSkew=00:00:00",
        // Every test logs in from 127.0.0.1: the per-address limit (60 a minute) would answer 429 to the last ones.
        "--Tessera:Auth:LoginsPerMinutePerAddress=100000",
    ];

    /// <summary>npm ci when node_modules is missing, npm run build when dist/index.js is missing or older than the sources.</summary>
    public static async Task EnsureBuiltAsync()
    {
        await BuildLock.WaitAsync();
        try
        {
            if (!File.Exists(Path.Combine(Directory, "node_modules", ".package-lock.json")))
            {
                await NpmAsync("ci", "--no-audit", "--no-fund", "--loglevel=error");
            }
            var module = new FileInfo(Path.Combine(Directory, "dist", "index.js"));
            var sources = System.IO.Directory.GetFiles(Path.Combine(Directory, "src"), "*.ts")
                .Append(Path.Combine(Directory, "tsconfig.json"))
                .Max(File.GetLastWriteTimeUtc);
            if (!module.Exists || module.LastWriteTimeUtc < sources)
            {
                await NpmAsync("run", "build");
            }
        }
        finally
        {
            BuildLock.Release();
        }
    }

    private static async Task NpmAsync(params string[] args)
    {
        var start = new ProcessStartInfo("npm") { WorkingDirectory = Directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(cts.Token);
        Assert.True(process.ExitCode == 0, $"npm {string.Join(' ', args)} in {Directory} failed ({process.ExitCode}):\n{await stderr}\n{await stdout}");
    }
}

public class JsClientNodeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Node_tests_of_the_package_pass_against_the_real_server()
    {
        var build = JsClientPackage.EnsureBuiltAsync();
        await using var server = await ServerProcess.StartAsync(extra: JsClientPackage.ServerArguments);
        await build;
        var testDirectory = Path.Combine(JsClientPackage.Directory, "test");
        var files = Directory.GetFiles(testDirectory, "*.test.mjs").Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(files);
        var reporter = new Uri(Path.Combine(testDirectory, "summary-reporter.mjs")).AbsoluteUri;
        var clock = Stopwatch.StartNew();
        var summary = await NodeInterop.RunProcessAsync(
            "node",
            [
                "--test", "--test-concurrency=8", "--test-timeout=30000",
                "--test-reporter=spec", "--test-reporter-destination=stderr",
                "--test-reporter=" + reporter, "--test-reporter-destination=stdout",
                .. files,
            ],
            environment: new Dictionary<string, string> { ["TESSERA_URL"] = server.BaseUrl });
        output.WriteLine($"node --test: {clock.ElapsedMilliseconds} ms");

        var tests = summary.GetProperty("tests").EnumerateArray().ToArray();
        foreach (var test in tests)
        {
            output.WriteLine($"{(test.GetProperty("ok").GetBoolean() ? "ok  " : "FAIL")} {test.GetProperty("ms").GetInt64(),6} ms  {test.GetProperty("file").GetString()}: {test.GetProperty("name").GetString()}");
        }
        Assert.Equal(0, summary.GetProperty("failed").GetInt32());
        Assert.Equal(tests.Length, summary.GetProperty("passed").GetInt32());
        var names = tests.Select(t => t.GetProperty("name").GetString()!).ToArray();
        // What the package promises, each proved by a test of its own (a renamed or lost test fails here).
        foreach (var expected in new[]
        {
            "register, login, connect and whoami",
            "the same socket lives across two refreshes",
            "cause exactly one POST /auth/refresh",
            "concurrent refresh() calls share one POST",
            "connect with an expired access token and a valid refresh token: one refresh, then connected",
            "a logout by another client of the same session",
            "logoutAll() from another login",
            "logout(): POST /auth/logout",
            "refresh_reused",
            "refresh_invalid",
            "refresh_expired",
            "refused at connect as token_revoked",
            "refused at connect as token_invalid",
            "still token_invalid after that one refresh",
            "token_missing",
            "\"refresh-failed\"",
            "resume() with the stored refresh token after a restart",
            "resume() with nothing stored is false",
            "resume() with a refused refresh token is false",
        })
        {
            Assert.Contains(names, n => n.Contains(expected, StringComparison.Ordinal));
        }
        Assert.DoesNotContain("Unhandled exception", server.Output, StringComparison.Ordinal);
    }
}

// Chromium: one browser at a time in the suite (the demo page's tests are in the same collection).
[Collection("Browser")]
public class JsClientBrowserTests(ITestOutputHelper output)
{
    [Fact]
    public async Task In_chromium_the_cookie_flow_resumes_after_a_reload_and_two_tabs_refresh_once()
    {
        if (!Directory.Exists(Path.Combine(NodeInterop.InteropDirectory, "node_modules", "playwright-core")))
        {
            throw new InvalidOperationException($"Run `npm ci` in {NodeInterop.InteropDirectory} first (bash scripts/test.sh does it).");
        }
        var build = JsClientPackage.EnsureBuiltAsync();
        await using var server = await ServerProcess.StartAsync(extra: JsClientPackage.ServerArguments);
        await build;
        var clock = Stopwatch.StartNew();
        var summary = await NodeInterop.RunProcessAsync(
            "node",
            [Path.Combine(JsClientPackage.Directory, "test", "browser.mjs"), server.BaseUrl],
            environment: new Dictionary<string, string> { ["TESSERA_INTEROP_DIR"] = NodeInterop.InteropDirectory });
        output.WriteLine($"browser.mjs: {clock.ElapsedMilliseconds} ms");
        output.WriteLine(summary.ToString());
        Assert.True(summary.GetProperty("ok").GetBoolean());
        Assert.Equal(7, summary.GetProperty("steps").GetArrayLength());
        // The server's own counts: one POST for the two tabs' simultaneous refresh, one per round of auth:expiring.
        var simultaneous = summary.GetProperty("simultaneous");
        Assert.Equal(1, simultaneous.GetProperty("postsFromTabs").GetInt32());
        Assert.Equal(1, simultaneous.GetProperty("serverRefreshes").GetProperty("rotated").GetInt32());
        Assert.Equal(2, summary.GetProperty("twoRounds").GetProperty("rotated").GetInt32());
        Assert.Equal(0, summary.GetProperty("total").GetProperty("reused").GetInt32());
    }
}
