using System.Net;
using System.Net.WebSockets;
using System.Text.Json;

namespace Tessera.EngineIO.Tests;

/// <summary>Every refusal answers as Node's engine.io does: a status and a JSON body {code, message}.</summary>
public class ErrorTests
{
    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, int code, string message)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(["code", "message"], json.EnumerateObject().Select(p => p.Name));
        Assert.Equal(code, json.GetProperty("code").GetInt32());
        Assert.Equal(message, json.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("GET", "EIO=4&transport=carrier-pigeon", 0, "Transport unknown")]
    [InlineData("GET", "EIO=4", 0, "Transport unknown")]
    [InlineData("GET", "EIO=4&transport=polling&sid=doesnotexist", 1, "Session ID unknown")]
    [InlineData("POST", "EIO=4&transport=polling", 2, "Bad handshake method")]
    [InlineData("PUT", "EIO=4&transport=polling", 2, "Bad handshake method")]
    [InlineData("GET", "EIO=4&transport=websocket", 3, "Bad request")]
    [InlineData("GET", "EIO=3&transport=polling", 5, "Unsupported protocol version")]
    [InlineData("GET", "transport=polling", 5, "Unsupported protocol version")]
    public async Task Bad_requests_get_400_with_nodes_error_body(string method, string query, int code, string message)
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(new HttpMethod(method), server.Url(query));
        using var response = await server.Http.SendAsync(request);
        await AssertErrorAsync(response, HttpStatusCode.BadRequest, code, message);
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Unsupported_method_on_a_session_is_a_bad_request_and_the_session_survives()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        using var request = new HttpRequestMessage(HttpMethod.Put, server.Url($"EIO=4&transport=polling&sid={sid}"));
        using var response = await server.Http.SendAsync(request);
        await AssertErrorAsync(response, HttpStatusCode.BadRequest, 3, "Bad request");
        Assert.Equal(HttpStatusCode.OK, (await server.PostAsync(sid, "4x")).Status);
        Assert.Equal("4x", (await server.GetAsync(sid)).Body);
    }

    [Fact]
    public async Task Polling_request_for_a_websocket_session_is_a_bad_request()
    {
        await using var server = await TestServer.StartAsync();
        using var ws = await server.ConnectWebSocketAsync("EIO=4&transport=websocket");
        var open = await ws.ReceiveTextAsync();
        var sid = JsonDocument.Parse(open[1..]).RootElement.GetProperty("sid").GetString()!;
        using var response = await server.Http.GetAsync(server.Url($"EIO=4&transport=polling&sid={sid}"));
        await AssertErrorAsync(response, HttpStatusCode.BadRequest, 3, "Bad request");
        // The WebSocket session is untouched.
        await ws.SendTextAsync("4still");
        Assert.Equal("4still", await ws.ReceiveTextAsync());
    }

    [Fact]
    public async Task Error_responses_let_browsers_read_them()
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, server.Url("EIO=3&transport=polling"));
        request.Headers.Add("Origin", "http://app.test");
        using var response = await server.Http.SendAsync(request);
        Assert.Equal("http://app.test", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("true", response.Headers.GetValues("Access-Control-Allow-Credentials").Single());
    }

    [Fact]
    public async Task AllowRequest_refuses_polling_and_websocket_handshakes_with_its_status_and_message()
    {
        await using var server = await TestServer.StartAsync(o => o.AllowRequest = ctx =>
            ValueTask.FromResult(ctx.Request.Headers.Authorization == "let-me-in"
                ? EngineIORequestDecision.Allow
                : EngineIORequestDecision.Refuse("Unauthorized", 401)));

        using (var response = await server.Http.GetAsync(server.Url("EIO=4&transport=polling")))
        {
            await AssertErrorAsync(response, HttpStatusCode.Unauthorized, 4, "Unauthorized");
        }

        using var ws = new ClientWebSocket();
        ws.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => ws.ConnectAsync(new Uri(server.WsUrl("EIO=4&transport=websocket")), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, ws.HttpStatusCode);

        using var allowed = new HttpRequestMessage(HttpMethod.Get, server.Url("EIO=4&transport=polling"));
        allowed.Headers.TryAddWithoutValidation("Authorization", "let-me-in");
        using var ok = await server.Http.SendAsync(allowed);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.StartsWith("0{", await ok.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AllowRequest_refusal_defaults_to_403_forbidden()
    {
        await using var server = await TestServer.StartAsync(o => o.AllowRequest = _ => ValueTask.FromResult(EngineIORequestDecision.Refuse()));
        using var response = await server.Http.GetAsync(server.Url("EIO=4&transport=polling"));
        await AssertErrorAsync(response, HttpStatusCode.Forbidden, 4, "Forbidden");
    }

    [Fact]
    public async Task Disabled_transport_is_unknown()
    {
        await using var server = await TestServer.StartAsync(o => o.Transports = EngineIOTransports.WebSocket);
        using var response = await server.Http.GetAsync(server.Url("EIO=4&transport=polling"));
        await AssertErrorAsync(response, HttpStatusCode.BadRequest, 0, "Transport unknown");
    }
}
