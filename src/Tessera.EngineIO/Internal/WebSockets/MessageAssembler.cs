using System.Buffers;

namespace Tessera.EngineIO.Internal.WebSockets;

/// <summary>
/// Gathers a message that does not arrive as one small frame: a fragmented message (RFC 6455 §5.4), or a frame
/// too large to wait for inside the pipe, copied out as it arrives. Its buffer is pooled and only held while
/// such a message is under way; most connections never create one. The buffer grows with the bytes that have
/// arrived (doubling, so copying stays linear), never with what a frame header announces: a header costs nothing
/// until its payload is actually sent.
/// </summary>
internal sealed class MessageAssembler : IDisposable
{
    private byte[]? _buffer;
    private int _length;
    // The frame being streamed: where its payload starts in the buffer, and how much of it is still to come.
    private WebSocketFrameHeader _streamed;
    private int _streamStart;
    private long _streamRemaining;

    /// <summary>A message's first fragment arrived and its final one has not.</summary>
    public bool InProgress { get; private set; }

    /// <summary>A large frame's payload is still arriving.</summary>
    public bool IsStreaming => _streamRemaining > 0;

    /// <summary>The last failure was the size limit (close with 1009) rather than a protocol error (1002).</summary>
    public bool TooLarge { get; private set; }

    public WebSocketOpcode Opcode { get; private set; }

    public Memory<byte> Data => _buffer is null ? Memory<byte>.Empty : _buffer.AsMemory(0, _length);

    /// <summary>Size of the buffer held now (0 when none): what the message costs so far.</summary>
    internal int Capacity => _buffer?.Length ?? 0;

    // The smallest buffer rented.
    private const int MinimumSize = 4096;

    /// <summary>Appends a complete data frame; false on a protocol error or past <paramref name="maxPayload"/>.</summary>
    public bool Append(WebSocketFrameHeader header, ReadOnlySequence<byte> payload, long maxPayload, out bool complete)
    {
        complete = false;
        if (!Accept(header, maxPayload))
        {
            return false;
        }
        var start = _length;
        // The fragment is all here; the message may go on, up to maxPayload.
        Grow(_length + (int)payload.Length, (int)Math.Min(maxPayload, int.MaxValue));
        payload.CopyTo(_buffer.AsSpan(start));
        _length += (int)payload.Length;
        WebSocketFrame.Unmask(_buffer.AsSpan(start, (int)payload.Length), header.MaskKey, 0);
        complete = header.Fin;
        InProgress = !header.Fin;
        return true;
    }

    /// <summary>A whole message in one frame that the pipe holds in several pieces: copied so it is contiguous.</summary>
    public void CopyWhole(WebSocketFrameHeader header, ReadOnlySequence<byte> payload)
    {
        Opcode = header.Opcode;
        Grow((int)payload.Length, (int)payload.Length);
        payload.CopyTo(_buffer);
        _length = (int)payload.Length;
        WebSocketFrame.Unmask(_buffer.AsSpan(0, _length), header.MaskKey, 0);
    }

    /// <summary>Starts copying a large frame whose payload has not all arrived.</summary>
    public bool BeginStreamed(WebSocketFrameHeader header, long maxPayload)
    {
        if (!Accept(header, maxPayload))
        {
            return false;
        }
        _streamed = header;
        _streamStart = _length;
        _streamRemaining = header.PayloadLength;
        return true;
    }

    /// <summary>Copies what <paramref name="buffer"/> has of the streamed frame; returns the bytes taken.</summary>
    public long AppendStreamed(ReadOnlySequence<byte> buffer)
    {
        var take = Math.Min(buffer.Length, _streamRemaining);
        if (take == 0)
        {
            return 0;
        }
        // Room for what arrived, doubling up to the frame's announced end (already checked against maxPayload).
        Grow(_length + (int)take, _length + (int)_streamRemaining);
        buffer.Slice(0, take).CopyTo(_buffer.AsSpan(_length));
        _length += (int)take;
        _streamRemaining -= take;
        return take;
    }

    /// <summary>The streamed frame is complete: unmasks it. If it was not final, the message goes on.</summary>
    public void FinishStreamed()
    {
        WebSocketFrame.Unmask(_buffer.AsSpan(_streamStart, _length - _streamStart), _streamed.MaskKey, 0);
        InProgress = !_streamed.Fin;
    }

    private bool Accept(WebSocketFrameHeader header, long maxPayload)
    {
        TooLarge = false;
        var continuation = header.Opcode == WebSocketOpcode.Continuation;
        if (continuation != InProgress)
        {
            // A continuation with nothing to continue, or a new message before the last one ended.
            return false;
        }
        if (!continuation)
        {
            Opcode = header.Opcode;
            _length = 0;
        }
        if (_length + header.PayloadLength > maxPayload)
        {
            TooLarge = true;
            return false;
        }
        // No buffer yet: it is sized by the bytes as they come (Append, AppendStreamed).
        return true;
    }

    /// <summary>
    /// Makes room for <paramref name="needed"/> bytes: at least double the current size (so the copies add up to
    /// less than twice the message), but never past <paramref name="ceiling"/>, the most the message can still
    /// become.
    /// </summary>
    private void Grow(int needed, int ceiling)
    {
        if (needed == 0 || (_buffer is not null && _buffer.Length >= needed))
        {
            return;
        }
        var size = Math.Max(needed, Math.Min(Math.Max(MinimumSize, (_buffer?.Length ?? 0) * 2), ceiling));
        var larger = ArrayPool<byte>.Shared.Rent(size);
        if (_buffer is not null)
        {
            _buffer.AsSpan(0, _length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
        }
        _buffer = larger;
    }

    /// <summary>The message was handled: give the buffer back.</summary>
    public void Reset()
    {
        InProgress = false;
        _length = 0;
        _streamRemaining = 0;
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }

    public void Dispose() => Reset();
}
