using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Tessera.Hostile;

/// <summary>The server answered the upgrade with something other than 101 (429 when an address is over its limit).</summary>
internal sealed class HandshakeRefusedException(int status) : Exception("upgrade refused with HTTP " + status)
{
    public int Status { get; } = status;
}

/// <summary>The server closed the connection (TCP FIN/RST or a WebSocket close frame).</summary>
internal sealed class ClosedByServerException(string message) : Exception(message);

/// <summary>
/// A WebSocket client on a raw socket, so that an attacker can choose its source address (127.0.0.2: the server's
/// per-address limits then see it as the stranger it is), write frames by hand (ping floods, pipelined events) and
/// never read unless it wants to. Text frames are masked as RFC 6455 requires of clients.
/// </summary>
internal sealed class RawWebSocket : IDisposable
{
    private const int MaxMessage = 16 * 1024 * 1024;
    private readonly Socket _socket;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;
    private int _disposed;

    private RawWebSocket(Socket socket) => _socket = socket;

    public static Socket NewSocket(IPAddress? local)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (local is not null)
        {
            socket.Bind(new IPEndPoint(local, 0));
        }
        return socket;
    }

    public static Task<RawWebSocket> ConnectAsync(IPEndPoint server, IPAddress? local, string pathAndQuery, CancellationToken cancellationToken) =>
        ConnectAsync(server, NewSocket(local), pathAndQuery, cancellationToken);

    /// <summary>Connects <paramref name="socket"/> (bound as its caller wants) and upgrades; the socket is owned from here on.</summary>
    public static async Task<RawWebSocket> ConnectAsync(IPEndPoint server, Socket socket, string pathAndQuery, CancellationToken cancellationToken)
    {
        var ws = new RawWebSocket(socket);
        try
        {
            await ws._socket.ConnectAsync(server, cancellationToken);
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var head = $"GET {pathAndQuery} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
            await ws.SendRawAsync(Encoding.ASCII.GetBytes(head), cancellationToken);
            var status = await ws.ReadHeadAsync(cancellationToken);
            if (status != 101)
            {
                throw new HandshakeRefusedException(status);
            }
            return ws;
        }
        catch
        {
            ws.Dispose();
            throw;
        }
    }

    /// <summary>Reads an HTTP response head; returns its status code and leaves what follows in the buffer.</summary>
    private async Task<int> ReadHeadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                var line = Encoding.ASCII.GetString(_buffer, _start, Math.Min(end, 64));
                _start += end + 4;
                var parts = line.Split(' ', 3);
                return parts.Length >= 2 && int.TryParse(parts[1], out var status) ? status : 0;
            }
            if (_end - _start > 8192)
            {
                return 0;
            }
            await FillAsync(_end - _start + 1, cancellationToken);
        }
    }

    /// <summary>Until at least <paramref name="count"/> unread bytes are buffered.</summary>
    private async ValueTask FillAsync(int count, CancellationToken cancellationToken)
    {
        while (_end - _start < count)
        {
            if (_buffer.Length - _start < count || _buffer.Length - _end < 1024)
            {
                var target = _buffer.Length - (_end - _start) < Math.Max(count, 1024) ? new byte[Math.Max(_buffer.Length * 2, count + 1024)] : _buffer;
                Buffer.BlockCopy(_buffer, _start, target, 0, _end - _start);
                _end -= _start;
                _start = 0;
                _buffer = target;
            }
            var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                throw new ClosedByServerException("connection closed by the server");
            }
            _end += read;
        }
    }

    /// <summary>The next text (or binary, as UTF-8) message; WebSocket pings are answered, a close frame throws.</summary>
    public async ValueTask<string> ReadTextAsync(CancellationToken cancellationToken)
    {
        List<byte>? fragments = null;
        while (true)
        {
            await FillAsync(2, cancellationToken);
            var b0 = _buffer[_start];
            var b1 = _buffer[_start + 1];
            var opcode = b0 & 0x0F;
            var fin = (b0 & 0x80) != 0;
            var masked = (b1 & 0x80) != 0;
            long length = b1 & 0x7F;
            var header = 2;
            if (length == 126)
            {
                await FillAsync(4, cancellationToken);
                length = BinaryPrimitives.ReadUInt16BigEndian(_buffer.AsSpan(_start + 2));
                header = 4;
            }
            else if (length == 127)
            {
                await FillAsync(10, cancellationToken);
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(_buffer.AsSpan(_start + 2));
                header = 10;
            }
            if (length > MaxMessage)
            {
                throw new ClosedByServerException("frame too large: " + length);
            }
            var maskAt = header;
            if (masked)
            {
                header += 4;
            }
            await FillAsync(header + (int)length, cancellationToken);
            var payload = _buffer.AsSpan(_start + header, (int)length);
            if (masked)
            {
                var mask = _buffer.AsSpan(_start + maskAt, 4);
                for (var i = 0; i < payload.Length; i++)
                {
                    payload[i] ^= mask[i & 3];
                }
            }
            switch (opcode)
            {
                case 0x8:
                    throw new ClosedByServerException("close frame from the server");
                case 0x9:
                    var pong = payload.ToArray();
                    _start += header + (int)length;
                    await SendFrameAsync(0xA, pong, cancellationToken);
                    continue;
                case 0xA:
                    _start += header + (int)length;
                    continue;
            }
            if (fin && fragments is null)
            {
                var text = Encoding.UTF8.GetString(payload);
                _start += header + (int)length;
                return text;
            }
            fragments ??= [];
            fragments.AddRange(payload);
            _start += header + (int)length;
            if (fin)
            {
                return Encoding.UTF8.GetString([.. fragments]);
            }
        }
    }

    public Task SendTextAsync(string text, CancellationToken cancellationToken) =>
        SendFrameAsync(0x1, Encoding.UTF8.GetBytes(text), cancellationToken);

    public async Task SendFrameAsync(int opcode, byte[] payload, CancellationToken cancellationToken)
    {
        var frame = new byte[FrameLength(payload.Length)];
        WriteFrame(frame, opcode, payload, (uint)Random.Shared.Next());
        await SendRawAsync(frame, cancellationToken);
    }

    /// <summary>Writes bytes as they are (pre-built frames, a request head), under the send lock.</summary>
    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken);
        try
        {
            while (!bytes.IsEmpty)
            {
                var sent = await _socket.SendAsync(bytes, SocketFlags.None, cancellationToken);
                if (sent <= 0)
                {
                    throw new ClosedByServerException("send failed");
                }
                bytes = bytes[sent..];
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public static int FrameLength(int payloadLength) =>
        (payloadLength < 126 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10) + 4 + payloadLength;

    /// <summary>One final, masked client frame into <paramref name="destination"/>; returns its length.</summary>
    public static int WriteFrame(Span<byte> destination, int opcode, ReadOnlySpan<byte> payload, uint maskKey)
    {
        destination[0] = (byte)(0x80 | opcode);
        int header;
        if (payload.Length < 126)
        {
            destination[1] = (byte)(0x80 | payload.Length);
            header = 2;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            destination[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payload.Length);
            header = 4;
        }
        else
        {
            destination[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payload.Length);
            header = 10;
        }
        Span<byte> mask = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(mask, maskKey);
        mask.CopyTo(destination[header..]);
        header += 4;
        for (var i = 0; i < payload.Length; i++)
        {
            destination[header + i] = (byte)(payload[i] ^ mask[i & 3]);
        }
        return header + payload.Length;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _socket.Dispose();
        }
    }
}
