using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Tessera.SocketIO.Tests;

/// <summary>Socket.IO v5 packet by packet over a raw WebSocket, as the public protocol test suite does.</summary>
public class ProtocolTests
{
    [Fact]
    public async Task Connect_to_main_namespace_replies_with_only_a_sid()
    {
        await using var server = await SioTestServer.StartAsync();
        using var client = await server.ConnectRawAsync();
        var reply = await client.ConnectNamespaceAsync();
        var json = JsonDocument.Parse(reply[2..]).RootElement;
        Assert.Equal(["sid"], json.EnumerateObject().Select(p => p.Name));
        Assert.Equal(20, json.GetProperty("sid").GetString()!.Length);
        Assert.NotEqual(client.WebSocket.ToString(), json.GetProperty("sid").GetString());
    }

    [Fact]
    public async Task Connect_to_custom_namespace_with_auth_payload_reaches_the_handshake()
    {
        await using var server = await SioTestServer.StartAsync();
        using var client = await server.ConnectRawAsync();
        var reply = await client.ConnectNamespaceAsync("40/custom,{\"token\":\"abc\"}");
        Assert.StartsWith("40/custom,{\"sid\":", reply);
        await client.SendAsync("42/custom,1[\"whoami\"]");
        var whoami = await client.NextTextAsync();
        Assert.StartsWith("43/custom,1[", whoami);
        var body = JsonDocument.Parse(whoami["43/custom,1".Length..]).RootElement[0];
        Assert.Equal("/custom", body.GetProperty("nsp").GetString());
        Assert.Equal("abc", body.GetProperty("auth").GetProperty("token").GetString());
    }

    [Theory]
    [InlineData("40/random", "44/random,{\"message\":\"Invalid namespace\"}")]
    [InlineData("40/random,", "44/random,{\"message\":\"Invalid namespace\"}")]
    public async Task Unknown_namespace_gets_invalid_namespace_and_connection_stays(string packet, string expected)
    {
        await using var server = await SioTestServer.StartAsync();
        using var client = await server.ConnectRawAsync();
        await client.SendAsync(packet);
        Assert.Equal(expected, await client.NextTextAsync());
        await client.ConnectNamespaceAsync();
    }

    [Fact]
    public async Task Events_and_acks_keep_the_clients_json_exactly()
    {
        await using var server = await SioTestServer.StartAsync();
        using var client = await server.ConnectRawAsync();
        await client.ConnectNamespaceAsync();
        await client.SendAsync("42[\"echo\",1,\"2\",{\"3\":[true],\"a\":null},1.5e3]");
        Assert.Equal("42[\"echo\",1,\"2\",{\"3\":[true],\"a\":null},1.5e3]", await client.NextTextAsync());
        await client.SendAsync("42456[\"echo\",{\"z\":1,\"a\":2}]");
        Assert.Equal("43456[{\"z\":1,\"a\":2}]", await client.NextTextAsync());
    }

    [Fact]
    public async Task Binary_event_and_binary_ack_carry_attachments_in_order()
    {
        await using var server = await SioTestServer.StartAsync();
        using var client = await server.ConnectRawAsync();
        await client.ConnectNamespaceAsync();
        await client.SendAsync("452-[\"echo\",{\"_placeholder\":true,\"num\":0},{\"x\":{\"_placeholder\":true,\"num\":1}}]");
        await client.SendAsync([1, 2, 3]);
        await client.SendAsync([4, 5, 6]);
        Assert.Equal("452-[\"echo\",{\"_placeholder\":true,\"num\":0},{\"x\":{\"_placeholder\":true,\"num\":1}}]", await client.NextTextAsync());
        Assert.Equal(new byte[] { 1, 2, 3 }, (await client.NextAsync())!.Value.Data);
        Assert.Equal(new byte[] { 4, 5, 6 }, (await client.NextAsync())!.Value.Data);

        await client.SendAsync("451-789[\"echo\",{\"_placeholder\":true,\"num\":0}]");
        await client.SendAsync([9]);
        Assert.Equal("461-789[{\"_placeholder\":true,\"num\":0}]", await client.NextTextAsync());
        Assert.Equal(new byte[] { 9 }, (await client.NextAsync())!.Value.Data);
    }

    [Fact]
    public async Task Client_disconnect_from_a_namespace_keeps_the_connection()
    {
        await using var server = await SioTestServer.StartAsync();
        using var client = await server.ConnectRawAsync();
        await client.ConnectNamespaceAsync();
        await client.ConnectNamespaceAsync("40/custom,");
        await client.SendAsync("41/custom,");
        await client.SendAsync("42[\"echo\",\"main still here\"]");
        Assert.Equal("42[\"echo\",\"main still here\"]", await client.NextTextAsync());
        await client.SendAsync("41");
        // Rejoining after leaving works on the same connection.
        await client.ConnectNamespaceAsync();
    }

    [Fact]
    public async Task Server_acks_from_the_client_resolve_emit_with_ack()
    {
        await using var server = await SioTestServer.StartAsync();
        using var client = await server.ConnectRawAsync();
        await client.ConnectNamespaceAsync();
        await client.SendAsync("421[\"ask\",{\"timeoutMs\":5000,\"question\":\"q\"}]");
        var question = await client.NextTextAsync();
        Assert.Matches("^42\\d+\\[\"question\",\"q\"\\]$", question);
        var id = question[2..question.IndexOf('[')];
        await client.SendAsync($"43{id}[\"the answer\"]");
        Assert.Equal("431[{\"ok\":true,\"answer\":\"the answer\"}]", await client.NextTextAsync());
    }

    [Fact]
    public async Task Server_ack_times_out_when_the_client_stays_silent()
    {
        await using var server = await SioTestServer.StartAsync();
        using var client = await server.ConnectRawAsync();
        await client.ConnectNamespaceAsync();
        await client.SendAsync("427[\"ask\",{\"timeoutMs\":200,\"question\":\"q\"}]");
        Assert.StartsWith("42", await client.NextTextAsync());
        Assert.Equal("437[{\"ok\":false,\"error\":\"timeout\"}]", await client.NextTextAsync());
    }

    [Fact]
    public async Task Connection_that_joins_no_namespace_is_closed_after_connect_timeout()
    {
        await using var server = await SioTestServer.StartAsync(configure: o => o.ConnectTimeout = TimeSpan.FromMilliseconds(300));
        using var client = await server.ConnectRawAsync();
        await client.AssertClosedAsync();
    }

    [Fact]
    public async Task Middleware_refusal_sends_connect_error_with_message_and_data()
    {
        await using var server = await SioTestServer.StartAsync();
        using var client = await server.ConnectRawAsync();
        await client.SendAsync("40/protected,{\"token\":\"bad\"}");
        Assert.Equal("44/protected,{\"message\":\"not authorized\",\"data\":{\"code\":\"nope\",\"retryable\":false}}", await client.NextTextAsync());
        // Refused through socket.Refuse, without an exception: the same CONNECT_ERROR, and the namespace stays joinable.
        await client.SendAsync("40/protected,{\"token\":\"refused-quietly\"}");
        Assert.Equal("44/protected,{\"message\":\"not authorized\",\"data\":{\"code\":\"nope\",\"retryable\":false}}", await client.NextTextAsync());
        await client.SendAsync("40/protected,{\"token\":\"good\"}");
        Assert.StartsWith("40/protected,{\"sid\":", await client.NextTextAsync());
    }

    public static TheoryData<string, string[]> MalformedPackets => new()
    {
        { "4abc", [] },
        { "42{}", [] },
        { "42abc[\"echo\",1]", [] },
        { "42[\"echo\"", [] },
        { "42[]", [] },
        { "42[\"disconnect\"]", [] },
        { "2", [] },
        { "9", [] },
        { "450-[\"echo\"]", [] },
        { "45x-[\"echo\"]", [] },
        { "4511-[\"echo\"]", [] },
        { "452-[\"echo\",{\"_placeholder\":true,\"num\":5}]", [] },
        // Malformed attachment fields close the connection as Node's "illegal attachments" does (review finding 3:
        // a non-numeric num used to throw, log an Error with a stack trace per packet, and leave the connection open).
        { "451-[\"echo\",{\"_placeholder\":true,\"num\":\"x\"}]", [] },
        { "451-[\"echo\",{\"_placeholder\":true,\"num\":{}}]", [] },
        { "451-[\"echo\",{\"_placeholder\":true,\"num\":0.5}]", [] },
        { "451-[\"echo\",{\"_placeholder\":true,\"num\":-1}]", [] },
        { "451-[\"echo\",{\"_placeholder\":true}]", [] },
        { "421[\"echo\"", [] },
        { "4299999999999999999999[\"echo\"]", [] },
        { "42/nope,[\"echo\"]", [] },
        { "40", [] }, // second CONNECT to a joined namespace
        { "40/" + new string('n', 10 * 1024) + ",", [] },
        { "BINARY", ["binary without a packet"] },
        { "451-[\"echo\",{\"_placeholder\":true,\"num\":0}]", ["text while reassembling"] },
    };

    [Theory]
    [MemberData(nameof(MalformedPackets))]
    public async Task Malformed_packet_closes_the_connection_and_the_server_serves_others(string packet, string[] variant)
    {
        await using var server = await SioTestServer.StartAsync();
        using var bystander = await server.ConnectRawAsync();
        await bystander.ConnectNamespaceAsync();

        using var client = await server.ConnectRawAsync();
        await client.ConnectNamespaceAsync();
        if (variant.Length > 0 && variant[0] == "binary without a packet")
        {
            await client.SendAsync([1, 2, 3]);
        }
        else
        {
            await client.SendAsync(packet);
            if (variant.Length > 0)
            {
                await client.SendAsync("42[\"echo\",1]");
            }
        }
        await client.AssertClosedAsync();

        await bystander.SendAsync("42[\"echo\",\"still served\"]");
        Assert.Equal("42[\"echo\",\"still served\"]", await bystander.NextTextAsync());
        Assert.DoesNotContain(server.Logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task Oversized_namespace_name_is_refused_without_echoing_it()
    {
        await using var server = await SioTestServer.StartAsync();
        using var client = await server.ConnectRawAsync();
        await client.SendAsync("40/" + new string('n', 10 * 1024));
        await client.AssertClosedAsync();
        Assert.DoesNotContain(server.Logs.Entries, e => e.Message.Contains(new string('n', 100), StringComparison.Ordinal));
    }
}
