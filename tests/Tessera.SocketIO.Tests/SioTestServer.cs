using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tessera.SocketIO.Tests;

/// <summary>
/// A real Kestrel on 127.0.0.1 serving the Socket.IO test app that tests/interop/socketio.mjs expects
/// (see tests/interop/README.md): echo, join, leave, to-room, broadcast, ask, whoami on "/", "/custom" and
/// the token-guarded "/protected".
/// </summary>
public sealed class SioTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SioTestServer(WebApplication app, SocketIOServer io, string baseUrl, LogCapture logs)
    {
        _app = app;
        Io = io;
        BaseUrl = baseUrl;
        Logs = logs;
    }

    public SocketIOServer Io { get; }
    public string BaseUrl { get; }
    public int Port => new Uri(BaseUrl).Port;
    public LogCapture Logs { get; }

    public static async Task<SioTestServer> StartAsync(int port = 0, Action<SocketIOOptions>? configure = null, Action<SocketIOServer>? setup = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var logs = new LogCapture();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(logs);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSocketIO(o =>
        {
            o.ConnectTimeout = TimeSpan.FromSeconds(5);
            configure?.Invoke(o);
        });
        var app = builder.Build();
        var io = app.Services.GetRequiredService<SocketIOServer>();
        foreach (var name in new[] { "/", "/custom", "/protected" })
        {
            var ns = io.Of(name);
            ns.OnConnection(socket => AddHandlers(ns, socket));
        }
        io.Of("/protected").Use((socket, next) =>
        {
            if (socket.Handshake.Auth.TryGetProperty("token", out var token) && token.ValueKind == JsonValueKind.String && token.GetString() == "good")
            {
                return next();
            }
            throw new SocketIOConnectException("not authorized", new { code = "nope", retryable = false });
        });
        setup?.Invoke(io);
        app.MapSocketIO();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new SioTestServer(app, io, address, logs);
    }

    private static void AddHandlers(SocketIONamespace ns, SocketIOSocket socket)
    {
        socket.On("echo", e =>
        {
            if (e.HasAck)
            {
                e.Ack(e.Args);
            }
            else
            {
                e.Socket.Emit("echo", e.Args);
            }
        });
        socket.On<string>("join", (room, e) =>
        {
            e.Socket.Join(room!);
            e.Ack(true);
        });
        socket.On<string>("leave", (room, e) =>
        {
            e.Socket.Leave(room!);
            e.Ack(true);
        });
        socket.On<JsonElement>("to-room", (request, e) =>
        {
            var target = ns.To(request.GetProperty("room").GetString()!);
            if (request.TryGetProperty("except", out var except))
            {
                target = target.Except(except.GetString()!);
            }
            request.TryGetProperty("data", out var data);
            target.Emit(request.GetProperty("event").GetString()!, data.ValueKind == JsonValueKind.Undefined ? null : data);
            e.Ack(true);
        });
        socket.On<JsonElement>("broadcast", (request, e) =>
        {
            request.TryGetProperty("data", out var data);
            e.Socket.Broadcast.Emit(request.GetProperty("event").GetString()!, data.ValueKind == JsonValueKind.Undefined ? null : data);
            e.Ack(true);
        });
        socket.On<JsonElement>("ask", async (request, e) =>
        {
            var timeout = TimeSpan.FromMilliseconds(request.GetProperty("timeoutMs").GetInt32());
            try
            {
                var answer = await e.Socket.EmitWithAckAsync("question", timeout, request.GetProperty("question"));
                e.Ack(new { ok = true, answer = answer.Count > 0 ? answer[0] : default(JsonElement?) });
            }
            catch (TimeoutException)
            {
                e.Ack(new { ok = false, error = "timeout" });
            }
        });
        socket.On("whoami", e => e.Ack(new { id = e.Socket.Id, nsp = e.Socket.Namespace.Name, auth = e.Socket.Handshake.Auth }));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>A raw WebSocket speaking Engine.IO/Socket.IO packets by hand; answers pings itself.</summary>
    public async Task<RawClient> ConnectRawAsync()
    {
        var ws = new ClientWebSocket();
        await ws.ConnectAsync(new Uri($"ws{BaseUrl[4..]}/socket.io/?EIO=4&transport=websocket"), CancellationToken.None);
        var client = new RawClient(ws);
        Assert.StartsWith("0{", await client.NextTextAsync());
        return client;
    }
}

public sealed class RawClient(ClientWebSocket ws) : IDisposable
{
    public ClientWebSocket WebSocket { get; } = ws;

    public Task SendAsync(string text) => WebSocket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    public Task SendAsync(byte[] binary) => WebSocket.SendAsync(binary, WebSocketMessageType.Binary, true, CancellationToken.None);

    /// <summary>The next message that is not a ping; null when the server closed the connection.</summary>
    public async Task<(bool Binary, byte[] Data)?> NextAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[64 * 1024];
        while (true)
        {
            using var ms = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                try
                {
                    result = await WebSocket.ReceiveAsync(buffer, cts.Token);
                }
                catch (WebSocketException)
                {
                    return null;
                }
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return null;
                }
                ms.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);
            var data = ms.ToArray();
            if (result.MessageType == WebSocketMessageType.Text && data is [(byte)'2'])
            {
                await SendAsync("3");
                continue;
            }
            return (result.MessageType == WebSocketMessageType.Binary, data);
        }
    }

    public async Task<string> NextTextAsync()
    {
        var message = await NextAsync();
        Assert.NotNull(message);
        Assert.False(message.Value.Binary);
        return Encoding.UTF8.GetString(message.Value.Data);
    }

    /// <summary>Joins the main namespace and reads the CONNECT reply.</summary>
    public async Task<string> ConnectNamespaceAsync(string packet = "40")
    {
        await SendAsync(packet);
        var reply = await NextTextAsync();
        Assert.StartsWith(packet.Length > 2 && packet[2] == '/' ? "40" + packet[2..].Split(',')[0] + "," : "40{", reply);
        return reply;
    }

    /// <summary>The server closes the session: an Engine.IO close packet may precede the WebSocket close.</summary>
    public async Task AssertClosedAsync()
    {
        var next = await NextAsync();
        if (next is { Binary: false } message && message.Data is [(byte)'1'])
        {
            next = await NextAsync();
        }
        Assert.Null(next);
    }

    public void Dispose() => WebSocket.Dispose();
}

/// <summary>Keeps every log entry so tests can assert a client's garbage logs nothing above Debug/Information.</summary>
public sealed class LogCapture : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Category, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue((logLevel, category, formatter(state, exception)));
    }
}
