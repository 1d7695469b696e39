using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Tessera.Server.Tests;

/// <summary>
/// A few seconds of the load generator against the bench app (CONTRACT §1): benchmarks themselves are not run
/// in CI, but the tools must work and the app must behave as the contract says.
/// </summary>
public class BenchSmokeTests
{
    private const string Secret = "bench-smoke-secret-that-is-long-enough!";

    private static string Dll(string name) => Path.Combine(AppContext.BaseDirectory, name + ".dll");

    /// <summary>
    /// The bench app's Native AOT build (bench/run.sh's), published by scripts/test.sh to artifacts/bench-server-aot
    /// before the tests run. A plain <c>dotnet test</c> has no such build: this test then says how to make one.
    /// </summary>
    private static string AotBenchServer()
    {
        var root = AppContext.BaseDirectory;
        while (root is not null && !File.Exists(Path.Combine(root, "Tessera.slnx")))
        {
            root = Path.GetDirectoryName(root.TrimEnd(Path.DirectorySeparatorChar));
        }
        var path = Path.Combine(root ?? ".", "artifacts", "bench-server-aot", "BenchServer");
        Assert.True(File.Exists(path), "No Native AOT build of the bench app at " + path + ": scripts/test.sh publishes it (dotnet publish samples/BenchServer -c Release -r linux-x64 -p:PublishAot=true -o artifacts/bench-server-aot).");
        return path;
    }

    private static async Task<(Process Server, string Url)> StartBenchServerAsync(bool aot = false)
    {
        var port = ServerProcess.FreePort();
        ProcessStartInfo start;
        if (aot)
        {
            start = new ProcessStartInfo(AotBenchServer()) { RedirectStandardOutput = true, RedirectStandardError = true };
        }
        else
        {
            start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(Dll("BenchServer"));
        }
        start.Environment["JWT_SECRET"] = Secret;
        start.Environment["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var process = Process.Start(start)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var url = $"http://127.0.0.1:{port}";
        using var http = new HttpClient();
        // Started when /stats answers (bounded polling: the process gives no other signal at this log level).
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var response = await http.GetAsync(url + "/stats");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return (process, url);
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        process.Kill();
        throw new InvalidOperationException("the bench app did not start");
    }

    private static async Task<JsonElement> GenerateAsync(string url, int pid, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Dll("Tessera.Bench"), "--url", url, "--secret", Secret, "--pid", pid.ToString(System.Globalization.CultureInfo.InvariantCulture) }.Concat(args))
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        Assert.True(process.ExitCode == 0, await errors + await output);
        return JsonDocument.Parse((await output).Trim().Split('\n').Last()).RootElement;
    }

    [Fact]
    public async Task Load_generator_runs_every_scenario_against_the_bench_app()
    {
        var (server, url) = await StartBenchServerAsync();
        try
        {
            foreach (var scenario in new[] { "handshake", "refused", "echo", "broadcast", "idle", "soak", "storm", "browser" })
            {
                var result = await GenerateAsync(url, server.Id, "--scenario", scenario, "--seconds", "3", "--warmup", "0", "--connections", scenario is "broadcast" or "idle" or "soak" or "storm" ? "50" : "4");
                Assert.True(result.GetProperty("Operations").GetInt64() > 0, scenario + ": " + result);
                Assert.Equal(0, result.GetProperty("Errors").GetInt64());
                Assert.True(result.GetProperty("ServerCpuUsPerOp").GetDouble() >= 0);
            }
            // A warm-up counted in operations (bench/run.sh's fresh-process rows): the measured window is what follows it.
            var fresh = await GenerateAsync(url, server.Id, "--scenario", "handshake", "--seconds", "30", "--warmup", "0", "--connections", "4",
                "--warmup-operations", "20", "--max-operations", "40");
            Assert.InRange(fresh.GetProperty("Operations").GetInt64(), 40, 44);
            Assert.Equal(0, fresh.GetProperty("Errors").GetInt64());
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
        }
    }

    // The Native AOT build too: nothing on these paths may need reflection (an anonymous object would fail only there).
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Bench_app_authenticates_echoes_broadcasts_and_reports_stats_per_contract(bool aot)
    {
        var (server, url) = await StartBenchServerAsync(aot);
        try
        {
            using var missing = await RawClient.ConnectAsync(url);
            await missing.SendAsync("40");
            Assert.Equal("44{\"message\":\"Authentication error: Token missing\",\"data\":{\"code\":\"token_missing\",\"retryable\":false}}", await missing.NextTextAsync());

            var token = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
            {
                Claims = new Dictionary<string, object> { ["sub"] = "42", ["name"] = "Ada" },
                Expires = DateTime.UtcNow.AddMinutes(5),
                SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(
                    new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(Secret)), "HS256"),
                TokenType = "JWT",
            });
            using var forged = await RawClient.ConnectAsync(url, "&token=" + token[..^2] + (token[^2] == 'A' ? "BB" : "AA"));
            await forged.SendAsync("40");
            Assert.Equal("44{\"message\":\"Authentication error: Invalid token\",\"data\":{\"code\":\"token_invalid\",\"retryable\":false}}", await forged.NextTextAsync());

            using var viaQuery = await RawClient.ConnectAsync(url, "&token=" + token);
            await viaQuery.SendAsync("40");
            Assert.StartsWith("40{", await viaQuery.NextTextAsync());
            await viaQuery.SendAsync("421[\"whoami\"]");
            Assert.Equal("431[{\"sub\":\"42\",\"name\":\"Ada\"}]", await viaQuery.NextTextAsync());
            await viaQuery.SendAsync("422[\"echo\",{\"a\":1},2]");
            Assert.Equal("432[{\"a\":1},2]", await viaQuery.NextTextAsync());
            await viaQuery.SendAsync("42[\"echo\",\"no ack\"]");
            Assert.Equal("42[\"echo\",\"no ack\"]", await viaQuery.NextTextAsync());
            await viaQuery.SendAsync("423[\"broadcast\",\"all\"]");
            Assert.Equal("42[\"broadcast\",\"all\"]", await viaQuery.NextTextAsync());
            Assert.Equal("433[{\"ok\":true}]", await viaQuery.NextTextAsync());

            using var http = new HttpClient();
            var stats = JsonDocument.Parse(await http.GetStringAsync(url + "/stats")).RootElement;
            Assert.Equal(1, stats.GetProperty("connectedSockets").GetInt32());
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
        }
    }
}
