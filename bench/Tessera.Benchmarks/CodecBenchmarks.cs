using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;
using Tessera.EngineIO.Internal;
using Tessera.SocketIO;
using Tessera.SocketIO.Internal;
using Tessera.SocketIO.Internal.Parser;

namespace Tessera.Benchmarks;

/// <summary>Packet codecs and broadcast encoding: what every message costs before any I/O.</summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private static readonly byte[] EventPacket = Encoding.UTF8.GetBytes("2[\"chat:message\",{\"room\":\"general\",\"text\":\"hello there, how are you?\"}]");
    private static readonly byte[] AckPacket = Encoding.UTF8.GetBytes("2/chat,17[\"echo\",{\"n\":1,\"payload\":\"abcdefghijklmnopqrstuvwxyz\"}]");
    private static readonly object Payload = new { room = "general", from = new { sub = "42", name = "Ada" }, text = "hello there, how are you?", at = 1_764_000_000_000L };
    private readonly ArrayBufferWriter<byte> _writer = new(4096);
    private readonly Frame[] _batch = Enumerable.Range(0, 8).Select(_ => new Frame(Encoding.UTF8.GetBytes("4" + Encoding.UTF8.GetString(EventPacket)), false)).ToArray();
    private readonly SocketIONamespace _ns = new SocketIOServer(Options.Create(new SocketIOOptions())).Sockets;

    [Benchmark]
    public object? Decode_event() => PacketDecoder.Decode(EventPacket, out _);

    [Benchmark]
    public object? Decode_event_with_namespace_and_ack() => PacketDecoder.Decode(AckPacket, out _);

    /// <summary>One broadcast: encoded once, whatever the number of recipients.</summary>
    [Benchmark]
    public object Encode_broadcast_event() => PacketWriter.Event(_ns, "chat:message", [Payload], -1);

    [Benchmark]
    public int Engine_polling_payload_of_8()
    {
        _writer.ResetWrittenCount();
        PacketParser.WritePayload(_writer, _batch);
        return _writer.WrittenCount;
    }
}
