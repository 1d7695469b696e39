using System.Text.Json;
using SocketIOClient;

namespace Tessera.SocketIO.Tests;

/// <summary>The .NET SocketIOClient package (NuGet) against the Socket.IO test app.</summary>
public class DotNetClientTests
{
    private static SocketIOClient.SocketIO Client(SioTestServer server, string token) =>
        new($"{server.BaseUrl}/protected", new SocketIOClient.SocketIOOptions
        {
            Auth = new { token },
            Reconnection = false,
            ConnectionTimeout = TimeSpan.FromSeconds(10),
            Transport = SocketIOClient.Transport.TransportProtocol.WebSocket,
        });

    [Fact]
    public async Task SocketIOClient_connects_with_auth_acks_and_receives_broadcasts()
    {
        await using var server = await SioTestServer.StartAsync();
        using var a = Client(server, "good");
        using var b = Client(server, "good");
        // SocketIOClient 3.0.x can return from ConnectAsync a moment before it raises OnConnected (seen under load):
        // wait for the client's own event rather than its Connected flag.
        var aConnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        a.OnConnected += (_, _) => aConnected.TrySetResult();
        await a.ConnectAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await b.ConnectAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await aConnected.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(a.Connected);

        var whoami = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        await a.EmitAsync("whoami", response => whoami.TrySetResult(response.GetValue(0)));
        var who = await whoami.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("/protected", who.GetProperty("nsp").GetString());
        Assert.Equal("good", who.GetProperty("auth").GetProperty("token").GetString());
        Assert.Equal(a.Id, who.GetProperty("id").GetString());

        var echo = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await a.EmitAsync("echo", response => echo.TrySetResult(response.GetValue<string>(0)), "héllo");
        Assert.Equal("héllo", await echo.Task.WaitAsync(TimeSpan.FromSeconds(10)));

        var news = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        b.On("news", response => news.TrySetResult(response.GetValue(0)));
        await a.EmitAsync("broadcast", new { @event = "news", data = new { headline = "tessera" } });
        Assert.Equal("tessera", (await news.Task.WaitAsync(TimeSpan.FromSeconds(10))).GetProperty("headline").GetString());

        await a.DisconnectAsync();
        await b.DisconnectAsync();
    }

    [Fact]
    public async Task SocketIOClient_sees_the_middleware_refusal()
    {
        await using var server = await SioTestServer.StartAsync();
        using var client = Client(server, "bad");
        var error = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnError += (_, message) => error.TrySetResult(message);
        _ = client.ConnectAsync();
        Assert.Contains("not authorized", await error.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(client.Connected);
    }
}
