using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Tessera.EngineIO.Internal.WebSockets;

namespace Tessera.Benchmarks;

/// <summary>The direct WebSocket path's codec: what a frame costs to read and write, before any I/O.</summary>
[MemoryDiagnoser]
public class WebSocketFrameBenchmarks
{
    // A masked client text frame carrying a typical echo event (~110 bytes).
    private readonly byte[] _clientFrame = MaskedFrame("4217[\"echo\",{\"n\":1,\"text\":\"" + new string('x', 64) + "\"}]");
    private readonly byte[] _payload = new byte[4096];
    private readonly byte[] _head = Encoding.ASCII.GetBytes(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:3000\r\nConnection: Upgrade\r\n" +
        "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    private readonly ArrayBufferWriter<byte> _writer = new(256);

    private static byte[] MaskedFrame(string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        var frame = new byte[2 + 4 + payload.Length];
        frame[0] = 0x81;
        frame[1] = (byte)(0x80 | payload.Length);
        frame[2] = 0x12; frame[3] = 0x34; frame[4] = 0x56; frame[5] = 0x78;
        for (var i = 0; i < payload.Length; i++)
        {
            frame[6 + i] = (byte)(payload[i] ^ frame[2 + (i & 3)]);
        }
        return frame;
    }

    /// <summary>Reads the header and unmasks the payload in place (twice, so the buffer ends as it started).</summary>
    [Benchmark]
    public long Read_masked_text_frame()
    {
        WebSocketFrame.TryReadHeader(_clientFrame, long.MaxValue, out var header);
        var payload = _clientFrame.AsSpan(header.HeaderLength, (int)header.PayloadLength);
        WebSocketFrame.Unmask(payload, header.MaskKey, 0);
        WebSocketFrame.Unmask(payload, header.MaskKey, 0);
        return header.PayloadLength;
    }

    [Benchmark]
    public void Unmask_4_KB() => WebSocketFrame.Unmask(_payload, 0x78563412, 0);

    [Benchmark]
    public int Write_server_text_frame()
    {
        _writer.ResetWrittenCount();
        WebSocketFrame.Write(_writer, WebSocketOpcode.Text, _clientFrame.AsSpan(6));
        return _writer.WrittenCount;
    }

    /// <summary>The upgrade request of a handshake on the direct path (strings kept for the session included).</summary>
    [Benchmark]
    public object? Parse_upgrade_request() => UpgradeRequest.TryParse(_head);
}
