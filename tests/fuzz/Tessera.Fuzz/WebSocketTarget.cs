using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Unicode;
using Tessera.EngineIO.Internal;
using Tessera.EngineIO.Internal.WebSockets;
using static Tessera.Fuzz.FuzzInput;

namespace Tessera.Fuzz;

/// <summary>
/// The direct WebSocket path's frame reader (WebSocketFrame.TryReadHeader, Unmask) and message assembler
/// (MessageAssembler), driven as DirectWebSocketTransport.RunAsync drives them, over bytes that arrive in pieces
/// the fuzzer chooses.
/// </summary>
/// <remarks>
/// Input: byte 0 picks maxPayload (bits 0-2) and whether each arrival is itself two pipe segments (bit 3);
/// byte 1 (mod 16) is the number of arrival sizes that follow, one byte each; the rest is what the client sends.
/// The same bytes delivered at once must give the same messages, pongs and close status (a differential check),
/// the loop must advance, and the assembler's buffer must stay within maxPayload and in proportion to the bytes
/// that have arrived (never sized by what a header announces).
/// </remarks>
public static class WebSocketTarget
{
    // DirectWebSocketTransport.InPlaceFrameLimit: larger frames are streamed into the assembler as they arrive.
    private const int InPlaceFrameLimit = 64 * 1024;

    private static readonly long[] MaxPayloads = [1, 125, 4096, 65_536, 70_000, 1_000_000, 16_000_000, int.MaxValue];

    public static void Run(byte[] input)
    {
        if (input.Length < 2)
        {
            return;
        }
        var maxPayload = MaxPayloads[input[0] & 7];
        var twoSegments = (input[0] & 8) != 0;
        var count = Math.Min(input[1] % 16, input.Length - 2);
        var sizes = new int[count];
        for (var i = 0; i < count; i++)
        {
            // Small pieces mostly; from 0xF0 up, multiples of 4 KB so that large frames arrive in parts too.
            var b = input[2 + i];
            sizes[i] = b < 0xF0 ? b + 1 : (b - 0xEF) * 4096;
        }
        var wire = input.AsSpan(2 + count).ToArray();

        CheckUnmask(wire);

        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var split = Drive(wire, sizes, twoSegments, maxPayload);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        // The harness copies the input a few times over; a buffer sized by a header, not by the bytes, is far more.
        Check(allocated <= 128L * wire.Length + (1 << 20), $"allocated {allocated} bytes for {wire.Length} bytes of input");

        var whole = Drive(wire, [], false, maxPayload);
        Check(split.CloseStatus == whole.CloseStatus, $"close status {split.CloseStatus} in pieces, {whole.CloseStatus} at once");
        Check(split.Events.Count == whole.Events.Count, "a different number of messages in pieces and at once");
        for (var i = 0; i < split.Events.Count; i++)
        {
            Check(split.Events[i].Kind == whole.Events[i].Kind && split.Events[i].Data.AsSpan().SequenceEqual(whole.Events[i].Data),
                $"message {i} differs in pieces and at once");
        }
    }

    private sealed record Outcome(List<(int Kind, byte[] Data)> Events, ushort CloseStatus);

    /// <summary>RunAsync's receive loop, with the socket replaced by a list of what it would have been given.</summary>
    private static Outcome Drive(byte[] wire, int[] sizes, bool twoSegments, long maxPayload)
    {
        var events = new List<(int Kind, byte[] Data)>();
        MessageAssembler? assembler = null;
        try
        {
            // Frames are unmasked in place, as in the pipe: each run gets its own copy of the bytes.
            return new Outcome(events, Loop(wire.ToArray(), sizes, twoSegments, maxPayload, events, ref assembler));
        }
        finally
        {
            assembler?.Dispose();
        }
    }

    private static ushort Loop(byte[] wire, int[] sizes, bool twoSegments, long maxPayload, List<(int Kind, byte[] Data)> events, ref MessageAssembler? assembler)
    {
        ushort closeStatus = 0;
        var pipe = new List<ReadOnlyMemory<byte>>();
        var offset = 0;
        var arrival = 0;
        var rounds = 0;
        while (closeStatus == 0 && offset < wire.Length)
        {
            // One ReadAsync: what was left unconsumed, plus the next arrival.
            var size = arrival < sizes.Length ? Math.Min(sizes[arrival], wire.Length - offset) : wire.Length - offset;
            arrival++;
            if (twoSegments && size > 1)
            {
                pipe.Add(wire.AsMemory(offset, size / 2));
                pipe.Add(wire.AsMemory(offset + size / 2, size - size / 2));
            }
            else
            {
                pipe.Add(wire.AsMemory(offset, size));
            }
            offset += size;
            var buffer = Sequence(pipe);
            var start = buffer.Length;
            while (closeStatus == 0)
            {
                Check(++rounds <= 2 * wire.Length + 2 * sizes.Length + 16, "the receive loop does not advance");
                var message = assembler;
                if (message is { IsStreaming: true })
                {
                    var before = buffer.Length;
                    buffer = buffer.Slice(message.AppendStreamed(buffer));
                    CheckCapacity(message, offset, maxPayload);
                    if (message.IsStreaming)
                    {
                        Check(buffer.Length == 0, "a streamed frame left bytes unread while still streaming");
                        break;
                    }
                    Check(buffer.Length < before || before == 0, "a streamed frame took nothing");
                    message.FinishStreamed();
                    if (!message.InProgress)
                    {
                        closeStatus = DispatchAssembled(events, message);
                    }
                    continue;
                }
                var status = WebSocketFrame.TryReadHeader(buffer, maxPayload, out var header);
                CheckHeader(buffer, maxPayload, status, header);
                if (status == FrameParseStatus.Incomplete)
                {
                    break;
                }
                if (status != FrameParseStatus.Ok)
                {
                    closeStatus = status == FrameParseStatus.TooLarge ? (ushort)1009 : (ushort)1002;
                    break;
                }
                if (buffer.Length < header.FrameLength)
                {
                    if (header.PayloadLength <= InPlaceFrameLimit)
                    {
                        break;
                    }
                    message = assembler ??= new MessageAssembler();
                    if (!message.BeginStreamed(header, maxPayload))
                    {
                        closeStatus = message.TooLarge ? (ushort)1009 : (ushort)1002;
                        break;
                    }
                    CheckCapacity(message, offset, maxPayload);
                    buffer = buffer.Slice(header.HeaderLength);
                    continue;
                }
                var payload = buffer.Slice(header.HeaderLength, header.PayloadLength);
                if (header.IsControl)
                {
                    closeStatus = OnControlFrame(events, header, payload);
                }
                else if (header.Fin && header.Opcode != WebSocketOpcode.Continuation && message is not { InProgress: true })
                {
                    if (payload.IsSingleSegment)
                    {
                        var data = MemoryMarshal.AsMemory(payload.First);
                        WebSocketFrame.Unmask(data.Span, header.MaskKey, 0);
                        closeStatus = Dispatch(events, header.Opcode, data.Span);
                    }
                    else
                    {
                        message = assembler ??= new MessageAssembler();
                        message.CopyWhole(header, payload);
                        CheckCapacity(message, offset, maxPayload);
                        closeStatus = DispatchAssembled(events, message);
                    }
                }
                else
                {
                    message = assembler ??= new MessageAssembler();
                    if (!message.Append(header, payload, maxPayload, out var complete))
                    {
                        closeStatus = message.TooLarge ? (ushort)1009 : (ushort)1002;
                    }
                    else
                    {
                        CheckCapacity(message, offset, maxPayload);
                        if (complete)
                        {
                            closeStatus = DispatchAssembled(events, message);
                        }
                    }
                }
                buffer = buffer.Slice(header.FrameLength);
            }
            // AdvanceTo(buffer.Start): the pipe keeps what was not consumed.
            Consume(pipe, start - buffer.Length);
        }
        return closeStatus;
    }

    private static ushort DispatchAssembled(List<(int Kind, byte[] Data)> events, MessageAssembler message)
    {
        try
        {
            Check(message.Data.Length <= message.Capacity, "the assembled message is longer than its buffer");
            return Dispatch(events, message.Opcode, message.Data.Span);
        }
        finally
        {
            message.Reset();
            Check(message.Capacity == 0 && !message.InProgress && !message.IsStreaming, "Reset left the assembler holding a buffer or a message");
        }
    }

    /// <summary>DispatchAsync and EngineIOSocket.OnTextPacketAsync, reduced to what decides the close status.</summary>
    private static ushort Dispatch(List<(int Kind, byte[] Data)> events, WebSocketOpcode opcode, ReadOnlySpan<byte> data)
    {
        Check(opcode is WebSocketOpcode.Text or WebSocketOpcode.Binary, $"a message with opcode {opcode}");
        events.Add(((int)opcode, data.ToArray()));
        if (opcode == WebSocketOpcode.Binary)
        {
            return 0;
        }
        if (!Utf8.IsValid(data))
        {
            return 1007;
        }
        if (!PacketParser.TryParseText(data, out var type, out _))
        {
            return 1;
        }
        return type is PacketType.Close or PacketType.Ping ? (ushort)1 : (ushort)0;
    }

    private static ushort OnControlFrame(List<(int Kind, byte[] Data)> events, WebSocketFrameHeader header, ReadOnlySequence<byte> payload)
    {
        Check(payload.Length <= 125 && header.Fin, "a control frame over 125 bytes or fragmented got through");
        Span<byte> data = stackalloc byte[125];
        data = data[..(int)payload.Length];
        payload.CopyTo(data);
        WebSocketFrame.Unmask(data, header.MaskKey, 0);
        switch (header.Opcode)
        {
            case WebSocketOpcode.Ping:
                events.Add((0x100 | (int)header.Opcode, data.ToArray()));
                return 0;
            case WebSocketOpcode.Close:
                if (!WebSocketFrame.IsValidClosePayload(data))
                {
                    return 1002;
                }
                events.Add((0x100 | (int)header.Opcode, data.ToArray()));
                return 1;
            default:
                return 0;
        }
    }

    /// <summary>The assembler's buffer: within maxPayload, and in proportion to what has arrived.</summary>
    private static void CheckCapacity(MessageAssembler message, long arrived, long maxPayload)
    {
        var capacity = message.Capacity;
        // The pool rounds a rent up to a power of two: twice the size asked for at most.
        Check(capacity <= 2 * Math.Max(4096, maxPayload), $"a buffer of {capacity} bytes past maxPayload {maxPayload}");
        Check(capacity <= 4 * Math.Max(4096, arrived), $"a buffer of {capacity} bytes when {arrived} bytes have arrived");
    }

    /// <summary>The header read from a sequence agrees with the same bytes read as a span, and with RFC 6455 §5.2.</summary>
    private static void CheckHeader(ReadOnlySequence<byte> buffer, long maxPayload, FrameParseStatus status, WebSocketFrameHeader header)
    {
        var head = buffer.Slice(0, Math.Min(buffer.Length, 14)).ToArray();
        var spanStatus = WebSocketFrame.TryReadHeader(head, maxPayload, out var spanHeader);
        Check(spanStatus == status && spanHeader == header, "the header differs read from a sequence and from a span");
        if (head.Length < 2)
        {
            Check(status == FrameParseStatus.Incomplete, "a header from under 2 bytes");
            return;
        }
        var fin = (head[0] & 0x80) != 0;
        var opcode = head[0] & 0x0F;
        var control = (opcode & 0x8) != 0;
        var broken = (head[0] & 0x70) != 0 || (head[1] & 0x80) == 0 || opcode is (> 2 and < 8) or > 10;
        var code = head[1] & 0x7F;
        var extended = code == 126 ? 2 : code == 127 ? 8 : 0;
        var needed = 2 + extended + 4;
        long? length = code < 126 ? code
            : head.Length < 2 + extended ? null
            : code == 126 ? BinaryPrimitives.ReadUInt16BigEndian(head.AsSpan(2)) : (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(head.AsSpan(2)), long.MaxValue);
        switch (status)
        {
            case FrameParseStatus.Ok:
                Check(!broken && head.Length >= needed && length is { } l && l <= maxPayload && (!control || (fin && l <= 125)), "a broken header accepted");
                Check(header.Fin == fin && (int)header.Opcode == opcode && header.PayloadLength == length && header.HeaderLength == needed
                    && header.MaskKey == MemoryMarshal.Read<uint>(head.AsSpan(needed - 4)), "an accepted header read wrong");
                break;
            case FrameParseStatus.Incomplete:
                Check(!broken && head.Length < needed, "a header with all its bytes reported incomplete");
                break;
            case FrameParseStatus.TooLarge:
                Check(length > maxPayload, "a header within maxPayload reported too large");
                break;
            case FrameParseStatus.ProtocolError:
                var wide = code == 127 && head.Length >= 10 && (head[2] & 0x80) != 0;
                Check(broken || wide || (control && (!fin || length > 125)), "a valid header reported as a protocol error");
                break;
            default:
                throw new FuzzBugException($"unknown status {status}");
        }
    }

    /// <summary>Unmasking whole or in two pieces (with the offset of the second) equals XOR with the key bytes.</summary>
    private static void CheckUnmask(byte[] wire)
    {
        if (wire.Length < 5)
        {
            return;
        }
        var key = MemoryMarshal.Read<uint>(wire);
        var data = wire.AsSpan(4, Math.Min(wire.Length - 4, 300));
        var expected = data.ToArray();
        for (var i = 0; i < expected.Length; i++)
        {
            expected[i] ^= wire[i & 3];
        }
        var whole = data.ToArray();
        WebSocketFrame.Unmask(whole, key, 0);
        Check(whole.AsSpan().SequenceEqual(expected), "Unmask differs from XOR with the key");
        var cut = data[0] % (data.Length + 1);
        var pieces = data.ToArray();
        WebSocketFrame.Unmask(pieces.AsSpan(0, cut), key, 0);
        WebSocketFrame.Unmask(pieces.AsSpan(cut), key, cut);
        Check(pieces.AsSpan().SequenceEqual(expected), "Unmask in two pieces differs from XOR with the key");
    }

    private static ReadOnlySequence<byte> Sequence(List<ReadOnlyMemory<byte>> pieces)
    {
        var nonEmpty = pieces.Where(p => p.Length > 0).ToList();
        if (nonEmpty.Count == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }
        if (nonEmpty.Count == 1)
        {
            return new ReadOnlySequence<byte>(nonEmpty[0]);
        }
        var first = new Segment(nonEmpty[0], 0);
        var last = first;
        for (var i = 1; i < nonEmpty.Count; i++)
        {
            last = last.Append(nonEmpty[i]);
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Drops <paramref name="count"/> bytes from the front of the pipe, keeping its segment boundaries.</summary>
    private static void Consume(List<ReadOnlyMemory<byte>> pipe, long count)
    {
        while (count > 0)
        {
            var first = pipe[0];
            if (first.Length <= count)
            {
                count -= first.Length;
                pipe.RemoveAt(0);
            }
            else
            {
                pipe[0] = first[(int)count..];
                count = 0;
            }
        }
        pipe.RemoveAll(p => p.Length == 0);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> data, long runningIndex)
        {
            Memory = data;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> data)
        {
            var next = new Segment(data, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
