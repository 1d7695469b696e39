using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tessera.Server.Tests;

public class ServerTests
{
    private const string Password = "correct horse battery";

    private static async Task<string> RegisterAsync(ServerProcess server, string username)
    {
        using var response = await server.PostJsonAsync("/auth/register", new { username, password = Password });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task Server_starts_answers_health_and_stops_cleanly_on_sigterm_within_five_seconds()
    {
        await using var server = await ServerProcess.StartAsync();
        using (var health = await server.Http.GetAsync("/healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }
        using (var root = await server.Http.GetAsync("/"))
        {
            Assert.Equal(HttpStatusCode.OK, root.StatusCode);
        }
        var stopwatch = Stopwatch.StartNew();
        Assert.Equal(0, await server.StopAsync(TimeSpan.FromSeconds(5)));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Store_survives_kill_9_mid_traffic()
    {
        var data = ServerProcess.NewDataDirectory();
        var port = ServerProcess.FreePort();
        var issued = new System.Collections.Concurrent.ConcurrentBag<string>();
        string revoked;
        await using (var server = await ServerProcess.StartAsync(data, port))
        {
            await RegisterAsync(server, "durable");
            (var revokedToken, revoked) = await server.LoginAsync("durable", Password);
            using (var logout = await server.PostJsonAsync("/auth/logout", null, bearer: revokedToken))
            {
                Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
            }

            // Logins in flight while the process is killed: whatever was answered must have been committed.
            using var enough = new CancellationTokenSource();
            var traffic = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                for (var i = 0; i < 200 && !enough.IsCancellationRequested; i++)
                {
                    try
                    {
                        var (_, refresh) = await server.LoginAsync("durable", Password);
                        issued.Add(refresh);
                        if (issued.Count >= 40)
                        {
                            enough.Cancel();
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                        return;
                    }
                }
            })).ToArray();
            while (issued.Count < 40 && !traffic.All(t => t.IsCompleted))
            {
                await Task.WhenAny(Task.WhenAny(traffic), Task.Delay(10));
            }
            server.KillHard();
            await Task.WhenAll(traffic);
        }
        Assert.True(issued.Count >= 40, $"only {issued.Count} logins before the kill");

        await using var restarted = await ServerProcess.StartAsync(data, port);
        foreach (var refresh in issued)
        {
            using var response = await restarted.PostJsonAsync("/auth/refresh", new { refreshToken = refresh });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        using var dead = await restarted.PostJsonAsync("/auth/refresh", new { refreshToken = revoked });
        Assert.Equal(HttpStatusCode.Unauthorized, dead.StatusCode);
    }

    [Fact]
    public async Task Command_line_manages_users_and_issues_tokens_for_a_running_server()
    {
        var data = ServerProcess.NewDataDirectory();
        var (added, addOutput) = await ServerProcess.RunCliAsync(data, "users", "add", "cli-user", "--password", Password);
        Assert.True(added == 0, addOutput);
        var id = addOutput.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        var (listed, list) = await ServerProcess.RunCliAsync(data, "users", "list");
        Assert.Equal(0, listed);
        Assert.Contains("cli-user", list);
        var (duplicate, duplicateOutput) = await ServerProcess.RunCliAsync(data, "users", "add", "cli-user", "--password", Password);
        Assert.NotEqual(0, duplicate);
        Assert.Contains("taken", duplicateOutput);

        await using var server = await ServerProcess.StartAsync(data);
        var (issuedExit, token) = await ServerProcess.RunCliAsync(data, "token", "issue", "--sub", id, "--ttl", "00:05:00");
        Assert.True(issuedExit == 0, token);
        using var socket = await RawClient.ConnectAsync(server.BaseUrl);
        socket.StripRecoveryOffsets = true;
        await socket.SendAsync("40" + JsonSerializer.Serialize(new { token = token.Trim() }));
        Assert.StartsWith("40{", await socket.NextTextAsync());
        await socket.SendAsync("421[\"whoami\"]");
        Assert.Equal($"431[{{\"sub\":\"{id}\",\"name\":\"cli-user\"}}]", await socket.NextTextAsync());

        // Disabling from the command line reaches the server's live socket within a second.
        var stopwatch = Stopwatch.StartNew();
        var (disabled, disableOutput) = await ServerProcess.RunCliAsync(data, "users", "disable", "cli-user");
        Assert.True(disabled == 0, disableOutput);
        var afterCli = stopwatch.Elapsed;
        Assert.Equal("42[\"auth:revoked\",{\"code\":\"token_revoked\"}]", await socket.NextTextAsync());
        Assert.True(stopwatch.Elapsed - afterCli < TimeSpan.FromSeconds(1), $"revoked {stopwatch.Elapsed - afterCli} after the command returned");
        using var login = await server.PostJsonAsync("/auth/login", new { username = "cli-user", password = Password });
        Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);
    }

    [Fact]
    public async Task Command_line_explains_its_usage_and_refuses_bad_input()
    {
        var data = ServerProcess.NewDataDirectory();
        var (help, usage) = await ServerProcess.RunCliAsync(data, "users");
        Assert.NotEqual(0, help);
        Assert.Contains("tessera users add", usage);
        var (shortPassword, message) = await ServerProcess.RunCliAsync(data, "users", "add", "someone", "--password", "short");
        Assert.NotEqual(0, shortPassword);
        Assert.Contains("at least", message);
    }

    [Theory]
    [InlineData("at least 32 bytes", "--Tessera:Auth:SigningKey=too-short")]
    [InlineData("must be sqlite (the default) or postgres", "--Tessera:Accounts:Store=mysql")]
    [InlineData("Accounts:Store=postgres needs an Npgsql connection string", "--Tessera:Accounts:Store=postgres")]
    [InlineData("must be HS256, ES256 or RS256", "--Tessera:Auth:SigningAlgorithm=none")]
    [InlineData("Tessera:SocketIO:Parser is 'protobuf'; it must be json (the default) or msgpack", "--Tessera:SocketIO:Parser=protobuf")]
    [InlineData("Tessera:EngineIO:AllowEIO3", "--Tessera:EngineIO:AllowEIO3=maybe")]
    [InlineData("Tessera:Redis:Sharded is 'maybe'", "--Tessera:Redis:Configuration=127.0.0.1:1,abortConnect=false", "--Tessera:Redis:Sharded=maybe")]
    [InlineData("cannot read /nonexistent/key.pem", "--Tessera:Auth:SigningAlgorithm=ES256", "--Tessera:Auth:SigningKeyFiles:0=/nonexistent/key.pem")]
    [InlineData("could not start: Failed to connect to 127.0.0.1:1", "--Tessera:Accounts:Store=postgres", "--Tessera:Accounts:ConnectionString=Host=127.0.0.1;Port=1;Username=tessera;Timeout=2")]
    public async Task A_configuration_error_refuses_to_start_with_a_clear_message(string message, params string[] args)
    {
        var start = ServerProcess.StartInfo(ServerProcess.NewDataDirectory(), ["--urls", $"http://127.0.0.1:{ServerProcess.FreePort()}", .. args]);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(cts.Token);
        Assert.Equal(1, process.ExitCode);
        // The last line says what to fix, whatever the host logged before it.
        var lastLine = (await errors).TrimEnd().Split('\n')[^1];
        Assert.Contains(message, lastLine + "\n" + await output);
        Assert.StartsWith("tessera: ", lastLine);
    }
}
