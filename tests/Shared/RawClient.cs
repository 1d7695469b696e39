using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Tessera.Tests.Shared;

/// <summary>A raw WebSocket speaking Engine.IO/Socket.IO packets by hand; answers pings itself.</summary>
public sealed partial class RawClient(ClientWebSocket ws) : IDisposable
{
    public ClientWebSocket WebSocket { get; } = ws;

    /// <summary>Opens /socket.io/ over WebSocket and reads the Engine.IO open packet.</summary>
    public static async Task<RawClient> ConnectAsync(string baseUrl, string query = "", Action<ClientWebSocketOptions>? configure = null)
    {
        var ws = new ClientWebSocket();
        configure?.Invoke(ws.Options);
        await ws.ConnectAsync(new Uri($"ws{baseUrl[4..]}/socket.io/?EIO=4&transport=websocket{query}"), CancellationToken.None);
        var client = new RawClient(ws);
        Assert.StartsWith("0{", await client.NextTextAsync());
        return client;
    }

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
        var text = Encoding.UTF8.GetString(message.Value.Data);
        return StripRecoveryOffsets ? RecoveryOffset().Replace(text, "$1]") : text;
    }

    /// <summary>
    /// With connection state recovery on (the server's default), every event sent without an ack ends with one more
    /// argument, its offset (CONTRACT §5). Tests that compare whole packets of other features compare them without it; the
    /// recovery tests check offsets themselves. Only the server's offset format (6 hex digits, '-', a hex counter) is taken off.
    /// </summary>
    public bool StripRecoveryOffsets { get; set; }

    [System.Text.RegularExpressions.GeneratedRegex("^(42[^\\[]*\\[.*),\"[0-9a-f]{12}-[0-9a-f]+\"\\]$", System.Text.RegularExpressions.RegexOptions.Singleline)]
    private static partial System.Text.RegularExpressions.Regex RecoveryOffset();

    /// <summary>Joins the main namespace and reads the CONNECT reply.</summary>
    public async Task<string> ConnectNamespaceAsync(string packet = "40")
    {
        await SendAsync(packet);
        var reply = await NextTextAsync();
        Assert.StartsWith(packet.Length > 2 && packet[2] == '/' ? "40" + packet[2..].Split(',')[0] + "," : "40{", reply);
        return reply;
    }

    /// <summary>Revocation as CONTRACT §3 says: auth:revoked {code:"token_revoked"}, then a DISCONNECT of "/".</summary>
    public async Task AssertRevokedAsync()
    {
        Assert.Equal("42[\"auth:revoked\",{\"code\":\"token_revoked\"}]", await NextTextAsync());
        Assert.Equal("41", await NextTextAsync());
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
