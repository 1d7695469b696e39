using System.Net;
using System.Net.WebSockets;

namespace Tessera.Server.Tests;

/// <summary>
/// CONTRACT §5 beyond recovery, with the official clients: socket.io-client 2.x over Engine.IO v3 (tests/interop/legacy.mjs)
/// when Tessera:EngineIO:AllowEIO3 is on, and socket.io-client 4.x with socket.io-msgpack-parser (tests/interop/msgpack.mjs)
/// when Tessera:SocketIO:Parser is msgpack.
/// </summary>
public class CompatibilityTests
{
    [Theory]
    [InlineData("chat-polling")]
    [InlineData("chat-websocket")]
    [InlineData("chat-upgrade")]
    [InlineData("refused")]
    public async Task A_socket_io_client_2_connects_chats_with_4_x_clients_and_is_refused_as_Node_refuses_it(string scenario)
    {
        await using var server = await ServerProcess.StartAsync(extra: ["--Tessera:EngineIO:AllowEIO3=true"]);
        var summary = await NodeInterop.RunAsync("legacy.mjs", scenario, server.BaseUrl);
        Assert.True(summary.GetProperty("ok").GetBoolean(), summary.ToString());
    }

    [Fact]
    public async Task A_socket_io_client_2_gets_auth_expiring_then_auth_expired_then_a_server_disconnect()
    {
        await using var server = await ServerProcess.StartAsync(extra:
            ["--Tessera:EngineIO:AllowEIO3=true", "--Tessera:Auth:ClockSkew=00:00:00", "--Tessera:Auth:AccessTokenLifetime=00:00:03"]);
        var summary = await NodeInterop.RunAsync("legacy.mjs", "expiry", server.BaseUrl);
        Assert.True(summary.GetProperty("ok").GetBoolean(), summary.ToString());
    }

    [Fact]
    public async Task Without_AllowEIO3_an_EIO_3_handshake_gets_400_over_polling_and_websocket()
    {
        await using var server = await ServerProcess.StartAsync();
        using var polling = await server.Http.GetAsync("/socket.io/?EIO=3&transport=polling");
        Assert.Equal(HttpStatusCode.BadRequest, polling.StatusCode);
        Assert.Contains("Unsupported protocol version", await polling.Content.ReadAsStringAsync());
        using var ws = new ClientWebSocket();
        var url = new Uri(server.BaseUrl.Replace("http", "ws") + "/socket.io/?EIO=3&transport=websocket");
        var refused = await Assert.ThrowsAsync<WebSocketException>(() => ws.ConnectAsync(url, CancellationToken.None));
        Assert.Contains("400", refused.Message);
        // EIO=4 is unaffected.
        using var v4 = await server.Http.GetAsync("/socket.io/?EIO=4&transport=polling");
        Assert.Equal(HttpStatusCode.OK, v4.StatusCode);
    }

    [Theory]
    [InlineData("websocket")]
    [InlineData("polling")]
    public async Task A_msgpack_client_connects_chats_sends_binary_is_refused_and_recovers_as_a_json_client(string transport)
    {
        await using var server = await ServerProcess.StartAsync(extra: ["--Tessera:SocketIO:Parser=msgpack"]);
        var summary = await NodeInterop.RunAsync("msgpack.mjs", transport, server.BaseUrl);
        Assert.True(summary.GetProperty("ok").GetBoolean(), summary.ToString());
    }
}
