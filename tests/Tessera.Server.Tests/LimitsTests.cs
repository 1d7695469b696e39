using System.Text.Json;

namespace Tessera.Server.Tests;

/// <summary>CONTRACT §2 <c>Limits:RoomsPerSocket</c> and <c>Limits:EventsPerSecond</c> (review finding 9).</summary>
public class LimitsTests
{
    [Fact]
    public async Task A_socket_joins_at_most_RoomsPerSocket_chat_rooms()
    {
        await using var server = await ServerProcess.StartAsync(extra: ["--Tessera:Limits:RoomsPerSocket=2"]);
        var (_, token) = await ServerClients.SignUpAsync(server, "roamer");
        using var client = await ServerClients.ConnectAsync(server, token);
        for (var i = 1; i <= 2; i++)
        {
            await client.SendAsync($"42{i}[\"chat:join\",{{\"room\":\"r{i}\"}}]");
            Assert.StartsWith($"43{i}[{{\"ok\":true", await client.NextTextAsync());
        }
        await client.SendAsync("423[\"chat:join\",{\"room\":\"r3\"}]");
        Assert.Equal("433[{\"ok\":false,\"code\":\"too_many_rooms\"}]", await client.NextTextAsync());
        // Joining a room it is already in is not a new room; leaving one makes space.
        await client.SendAsync("424[\"chat:join\",{\"room\":\"r1\"}]");
        Assert.StartsWith("434[{\"ok\":true", await client.NextTextAsync());
        await client.SendAsync("425[\"chat:leave\",{\"room\":\"r2\"}]");
        Assert.Equal("435[{\"ok\":true}]", await client.NextTextAsync());
        await client.SendAsync("426[\"chat:join\",{\"room\":\"r3\"}]");
        Assert.StartsWith("436[{\"ok\":true", await client.NextTextAsync());
    }

    [Fact]
    public async Task Events_over_EventsPerSecond_are_dropped_with_rate_limited_and_other_sockets_are_unaffected()
    {
        await using var server = await ServerProcess.StartAsync(extra: ["--Tessera:Limits:EventsPerSecond=5"]);
        var (_, token) = await ServerClients.SignUpAsync(server, "flooder");
        var (_, calmToken) = await ServerClients.SignUpAsync(server, "calm");
        using var flooder = await ServerClients.ConnectAsync(server, token);
        using var calm = await ServerClients.ConnectAsync(server, calmToken);
        const int sent = 40;
        for (var i = 1; i <= sent; i++)
        {
            await flooder.SendAsync($"42{i}[\"echo\",{i}]");
        }
        var limited = 0;
        for (var i = 1; i <= sent; i++)
        {
            var ack = await flooder.NextTextAsync();
            Assert.StartsWith($"43{i}[", ack);
            if (i <= 10)
            {
                // The burst (twice the rate) always passes, whatever the timing.
                Assert.Equal($"43{i}[{i}]", ack);
            }
            else if (ack == $"43{i}[{{\"ok\":false,\"code\":\"rate_limited\"}}]")
            {
                limited++;
            }
            else
            {
                Assert.Equal($"43{i}[{i}]", ack);
            }
        }
        // 40 events sent back to back cannot all fit a burst of 10 plus 5 a second.
        Assert.True(limited > 0, "no event was rate limited");
        await calm.SendAsync("421[\"echo\",\"fine\"]");
        Assert.Equal("431[\"fine\"]", await calm.NextTextAsync());
    }

    [Fact]
    public async Task Sessions_beyond_ConnectionsPerAddress_are_refused_with_429()
    {
        await using var server = await ServerProcess.StartAsync(extra: ["--Tessera:Limits:ConnectionsPerAddress=2"]);
        for (var i = 0; i < 2; i++)
        {
            using var open = await server.Http.GetAsync("/socket.io/?EIO=4&transport=polling");
            Assert.Equal(System.Net.HttpStatusCode.OK, open.StatusCode);
        }
        using var refused = await server.Http.GetAsync("/socket.io/?EIO=4&transport=polling");
        Assert.Equal(System.Net.HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/json", refused.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task An_invalid_limit_stops_the_server_at_start_with_a_clear_message()
    {
        var data = ServerProcess.NewDataDirectory();
        using var process = System.Diagnostics.Process.Start(ServerProcess.StartInfo(data, "--urls", $"http://127.0.0.1:{ServerProcess.FreePort()}", "--Tessera:Limits:EventsPerSecond=0"))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("Tessera:Limits:EventsPerSecond must be a positive number.", await output + await errors);
    }
}
