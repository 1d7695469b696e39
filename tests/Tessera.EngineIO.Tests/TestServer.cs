using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Tessera.EngineIO.Tests;

/// <summary>Echo handler that also records the session lifecycle so tests can await it.</summary>
public sealed class RecordingHandler : EngineIOHandler
{
    public Channel<EngineIOSocket> Opened { get; } = Channel.CreateUnbounded<EngineIOSocket>();
    public Channel<(string Sid, string Reason)> Closed { get; } = Channel.CreateUnbounded<(string, string)>();

    /// <summary>When each session opened and closed (Stopwatch timestamps), for timing assertions made server-side.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, (long Opened, long Closed)> Timeline { get; } = new();

    /// <summary>When set, OnOpenAsync waits for it (after recording the open): a handler still busy opening.</summary>
    public Task? OpenGate { get; set; }

    public override ValueTask OnOpenAsync(EngineIOSocket socket)
    {
        Timeline[socket.Id] = (System.Diagnostics.Stopwatch.GetTimestamp(), 0);
        Opened.Writer.TryWrite(socket);
        return OpenGate is { } gate ? new ValueTask(gate) : default;
    }

    public override ValueTask OnMessageAsync(EngineIOSocket socket, EngineIOMessage message)
    {
        if (!message.IsBinary && message.Data.Span.SequenceEqual("close-me"u8))
        {
            // The interop scripts' way to have the server close a session.
            socket.Send(EngineIOOutgoingMessage.Text("bye"));
            socket.Close();
            return default;
        }
        socket.Send(message.IsBinary
            ? EngineIOOutgoingMessage.Binary(message.Data.ToArray())
            : EngineIOOutgoingMessage.Text(message.Data.Span));
        return default;
    }

    public override ValueTask OnCloseAsync(EngineIOSocket socket, string reason)
    {
        Timeline.AddOrUpdate(socket.Id, _ => (0, System.Diagnostics.Stopwatch.GetTimestamp()), (_, t) => (t.Opened, System.Diagnostics.Stopwatch.GetTimestamp()));
        Closed.Writer.TryWrite((socket.Id, reason));
        return default;
    }

    /// <summary>Waits for the close of <paramref name="sid"/> and returns its reason.</summary>
    public async Task<string> WaitClosedAsync(string sid, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var (closedSid, reason) = await Closed.Reader.ReadAsync(cts.Token);
            if (closedSid == sid)
            {
                return reason;
            }
        }
    }
}

/// <summary>A real Kestrel on 127.0.0.1 with an Engine.IO endpoint at /engine.io/.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private readonly Channel<string> _parked;

    private TestServer(WebApplication app, RecordingHandler handler, string baseUrl, Channel<string> parked)
    {
        _app = app;
        _parked = parked;
        Handler = handler;
        BaseUrl = baseUrl;
        Http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(15) };
    }

    public RecordingHandler Handler { get; }
    public string BaseUrl { get; }
    public HttpClient Http { get; }
    public IHostApplicationLifetime Lifetime => _app.Lifetime;
    public IServiceProvider Services => _app.Services;

    public static async Task<TestServer> StartAsync(Action<EngineIOOptions>? configure = null, bool directWebSockets = true, Action<EngineIODirectWebSocketOptions>? direct = null)
    {
        var handler = new RecordingHandler();
        var parked = Channel.CreateUnbounded<string>();
        var (app, baseUrl) = await LoopbackApp.StartAsync(_ => { }, app =>
        {
            var endpoint = app.MapEngineIO("/engine.io", handler, configure);
            endpoint.Server.PollParked = sid => parked.Writer.TryWrite(sid);
        }, directWebSockets: directWebSockets, direct: direct);
        return new TestServer(app, handler, baseUrl, parked);
    }

    /// <summary>Waits until the server has parked a GET for <paramref name="sid"/>.</summary>
    public async Task WaitParkedAsync(string sid)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (await _parked.Reader.ReadAsync(cts.Token) != sid)
        {
        }
    }

    public Task StopAsync() => _app.StopAsync();

    public string Url(string query) => $"{BaseUrl}/engine.io/?{query}";

    public string WsUrl(string query) => $"ws{BaseUrl[4..]}/engine.io/?{query}";

    /// <summary>Polling handshake; returns the sid and the parsed open packet.</summary>
    public async Task<(string Sid, JsonElement Open)> HandshakeAsync()
    {
        var body = await Http.GetStringAsync(Url("EIO=4&transport=polling"));
        Assert.StartsWith("0{", body);
        var open = JsonDocument.Parse(body[1..]).RootElement;
        return (open.GetProperty("sid").GetString()!, open);
    }

    public async Task<(HttpStatusCode Status, string Body)> GetAsync(string sid, CancellationToken token = default)
    {
        using var response = await Http.GetAsync(Url($"EIO=4&transport=polling&sid={sid}"), token);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(token));
    }

    public async Task<(HttpStatusCode Status, string Body)> PostAsync(string sid, string payload)
    {
        using var content = new StringContent(payload, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain") { CharSet = "UTF-8" };
        using var response = await Http.PostAsync(Url($"EIO=4&transport=polling&sid={sid}"), content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Asserts the server still completes a fresh handshake and echoes a message.</summary>
    public async Task AssertServesNewClientAsync()
    {
        var (sid, _) = await HandshakeAsync();
        var post = await PostAsync(sid, "4still alive");
        Assert.Equal(HttpStatusCode.OK, post.Status);
        var poll = await GetAsync(sid);
        Assert.Equal("4still alive", poll.Body);
    }

    public async Task<ClientWebSocket> ConnectWebSocketAsync(string query)
    {
        var ws = new ClientWebSocket();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ws.ConnectAsync(new Uri(WsUrl(query)), cts.Token);
        return ws;
    }

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public static class WebSocketExtensions
{
    public static async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveMessageAsync(this WebSocket ws, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        var buffer = new byte[8192];
        using var ms = new MemoryStream();
        while (true)
        {
            var result = await ws.ReceiveAsync(buffer, cts.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return (WebSocketMessageType.Close, []);
            }
            ms.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, ms.ToArray());
            }
        }
    }

    public static async Task<string> ReceiveTextAsync(this WebSocket ws, TimeSpan? timeout = null)
    {
        var (type, data) = await ws.ReceiveMessageAsync(timeout);
        Assert.Equal(WebSocketMessageType.Text, type);
        return Encoding.UTF8.GetString(data);
    }

    /// <summary>Receives text packets, answering pings, until one that is not a ping arrives.</summary>
    public static async Task<string> ReceiveTextSkippingPingsAsync(this WebSocket ws)
    {
        while (true)
        {
            var text = await ws.ReceiveTextAsync();
            if (text != "2")
            {
                return text;
            }
            await ws.SendTextAsync("3");
        }
    }

    public static Task SendTextAsync(this WebSocket ws, string text) =>
        ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
}
