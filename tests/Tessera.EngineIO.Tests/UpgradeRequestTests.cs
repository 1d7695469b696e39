using System.Buffers;
using System.Text;
using Tessera.EngineIO.Internal.WebSockets;

namespace Tessera.EngineIO.Tests;

public class UpgradeRequestTests
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    private const string ValidHead =
        "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\n" +
        "Host: localhost:3000\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        "Sec-WebSocket-Key: " + Key + "\r\n" +
        "Sec-WebSocket-Version: 13\r\n" +
        "\r\n";

    private static UpgradeRequest? Parse(string head) => UpgradeRequest.TryParse(Encoding.UTF8.GetBytes(head));

    /// <summary>The valid head with one line replaced (or removed when <paramref name="replacement"/> is null).</summary>
    private static string With(string line, string? replacement) =>
        ValidHead.Contains(line + "\r\n", StringComparison.Ordinal)
            ? ValidHead.Replace(line + "\r\n", replacement is null ? "" : replacement + "\r\n", StringComparison.Ordinal)
            : throw new ArgumentException($"not in the valid head: {line}");

    /// <summary>The valid head with extra header lines before the blank line.</summary>
    private static string Adding(params string[] lines) => ValidHead[..^2] + string.Concat(lines.Select(l => l + "\r\n")) + "\r\n";

    [Fact]
    public void Valid_head_is_parsed()
    {
        var request = Parse(ValidHead);

        Assert.NotNull(request);
        Assert.Equal("/engine.io/", request.Path);
        Assert.Equal("EIO=4&transport=websocket", request.QueryString);
        Assert.Equal(Key, request.Key);
        Assert.False(request.OffersExtensions);
        Assert.Equal(
            ["Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version"],
            request.Headers.Select(h => h.Key));
        Assert.Equal("localhost:3000", request.Headers[0].Value.ToString());
    }

    [Fact]
    public void Header_names_are_case_insensitive_and_repeated_ones_are_merged_in_order()
    {
        var head =
            "GET /socket.io/ HTTP/1.1\r\n" +
            "host: example.test\r\n" +
            "UPGRADE: WebSocket\r\n" +
            "connection: keep-alive, Upgrade\r\n" +
            "sec-websocket-key:\t" + Key + " \r\n" +
            "SEC-WEBSOCKET-VERSION: 13\r\n" +
            "X-Custom: one\r\n" +
            "Cookie: a=1\r\n" +
            "x-custom: two\r\n" +
            "Content-Length: 0\r\n" +
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
            "\r\n";

        var request = Parse(head);

        Assert.NotNull(request);
        Assert.Equal("/socket.io/", request.Path);
        Assert.Equal("", request.QueryString);
        Assert.Equal(Key, request.Key);
        Assert.True(request.OffersExtensions);
        var headers = request.Headers.ToDictionary(h => h.Key, h => string.Join('|', h.Value.ToArray()), StringComparer.OrdinalIgnoreCase);
        Assert.Equal("one|two", headers["X-Custom"]);
        Assert.Equal("a=1", headers["Cookie"]);
        Assert.Equal("example.test", headers["Host"]);
        Assert.Equal("keep-alive, Upgrade", headers["Connection"]);
        Assert.Equal("permessage-deflate; client_max_window_bits", headers["Sec-WebSocket-Extensions"]);
        // Merged, not listed twice.
        Assert.Single(request.Headers, h => h.Key.Equals("X-Custom", StringComparison.OrdinalIgnoreCase));
    }

    public static TheoryData<string, string> RejectedHeads => new()
    {
        { "POST method", ValidHead.Replace("GET /", "POST /", StringComparison.Ordinal) },
        { "lowercase method", ValidHead.Replace("GET /", "get /", StringComparison.Ordinal) },
        { "HTTP/1.0", ValidHead.Replace("HTTP/1.1", "HTTP/1.0", StringComparison.Ordinal) },
        { "HTTP/2.0", ValidHead.Replace("HTTP/1.1", "HTTP/2.0", StringComparison.Ordinal) },
        { "absolute-form target", ValidHead.Replace("GET /engine.io/", "GET http://localhost/engine.io/", StringComparison.Ordinal) },
        { "percent-encoded path", ValidHead.Replace("/engine.io/", "/engine%2Eio/", StringComparison.Ordinal) },
        { "dot segment", ValidHead.Replace("/engine.io/", "/engine.io/../engine.io/", StringComparison.Ordinal) },
        { "single dot segment", ValidHead.Replace("/engine.io/", "/./engine.io/", StringComparison.Ordinal) },
        { "empty segment", ValidHead.Replace("/engine.io/", "//engine.io/", StringComparison.Ordinal) },
        { "backslash in path", ValidHead.Replace("/engine.io/", "/engine.io\\", StringComparison.Ordinal) },
        { "fragment", ValidHead.Replace("transport=websocket", "transport=websocket#top", StringComparison.Ordinal) },
        { "space in target", ValidHead.Replace("/engine.io/", "/engine io/", StringComparison.Ordinal) },
        { "control character in query", ValidHead.Replace("EIO=4", "EIO=\u00014", StringComparison.Ordinal) },
        { "folded header", Adding("X-A: 1", " continued: still") },
        { "folded header with tab", Adding("X-A: 1", "\tcontinued: still") },
        { "Content-Length not 0", Adding("Content-Length: 5") },
        { "Transfer-Encoding", Adding("Transfer-Encoding: chunked") },
        { "duplicate Host", Adding("Host: other.test") },
        { "duplicate key", Adding("Sec-WebSocket-Key: " + Key) },
        { "key too short", With("Sec-WebSocket-Key: " + Key, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=") },
        { "key not base64", With("Sec-WebSocket-Key: " + Key, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!==") },
        { "key decodes to 18 bytes", With("Sec-WebSocket-Key: " + Key, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA") },
        { "empty key", With("Sec-WebSocket-Key: " + Key, "Sec-WebSocket-Key:") },
        { "missing key", With("Sec-WebSocket-Key: " + Key, null) },
        { "missing Upgrade", With("Upgrade: websocket", null) },
        { "Upgrade to another protocol", With("Upgrade: websocket", "Upgrade: h2c") },
        { "Connection without upgrade token", With("Connection: Upgrade", "Connection: keep-alive") },
        { "Connection token as substring only", With("Connection: Upgrade", "Connection: upgraded") },
        { "missing Connection", With("Connection: Upgrade", null) },
        { "version 8", With("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8") },
        { "missing version", With("Sec-WebSocket-Version: 13", null) },
        { "missing Host", With("Host: localhost:3000", null) },
        { "non-ASCII header value", Adding("User-Agent: caf\u00e9") },
        { "non-ASCII path", ValidHead.Replace("/engine.io/", "/\u00e9ngine.io/", StringComparison.Ordinal) },
        { "head over 8 KB", Adding("X-Pad: " + new string('a', UpgradeRequest.MaxHeadLength)) },
        { "more than 64 headers", Adding(Enumerable.Range(0, 60).Select(i => $"X-H{i}: v").ToArray()) },
        { "header without colon", Adding("X-No-Colon") },
        { "empty header name", Adding(": value") },
        { "space before colon", Adding("X-Space : value") },
        { "control character in value", Adding("X-Ctl: a\u0001b") },
        { "bare LF line endings", ValidHead.Replace("\r\n", "\n", StringComparison.Ordinal) },
        { "no blank line", ValidHead[..^2] },
    };

    [Theory]
    [MemberData(nameof(RejectedHeads))]
    public void Anything_but_a_plain_upgrade_GET_is_rejected(string rule, string head)
    {
        Assert.True(Parse(head) is null, $"accepted a head with {rule}");
    }

    [Fact]
    public void Near_misses_of_the_rejection_rules_are_accepted()
    {
        // Guards the theory above: each rejected head must be a mutation of a head that is accepted.
        Assert.NotNull(Parse(ValidHead));
        Assert.NotNull(Parse(Adding("Content-Length: 0", "X-Pad: " + new string('a', 7000))));
        Assert.NotNull(Parse(Adding("X-A: 1", "X-B: still")));
        // 5 + 59 = exactly 64 headers.
        Assert.NotNull(Parse(Adding(Enumerable.Range(0, 59).Select(i => $"X-H{i}: v").ToArray())));
    }

    [Fact]
    public void FindHeadLength_waits_for_the_blank_line()
    {
        Assert.Equal(-1, UpgradeRequest.FindHeadLength(Sequence("")));
        Assert.Equal(-1, UpgradeRequest.FindHeadLength(Sequence(ValidHead[..^2])));
        Assert.Equal(-1, UpgradeRequest.FindHeadLength(Sequence(ValidHead[..^1])));
        Assert.Equal(ValidHead.Length, UpgradeRequest.FindHeadLength(Sequence(ValidHead)));
    }

    [Fact]
    public void FindHeadLength_does_not_count_bytes_after_the_head()
    {
        Assert.Equal(ValidHead.Length, UpgradeRequest.FindHeadLength(Sequence(ValidHead + "\u0081\u0085abcdhello")));
    }

    [Fact]
    public void FindHeadLength_finds_a_head_split_across_segments_at_any_point()
    {
        for (var split = 1; split < ValidHead.Length; split++)
        {
            var buffer = Sequence(ValidHead[..split], ValidHead[split..] + "next");
            Assert.False(buffer.IsSingleSegment);
            Assert.Equal(ValidHead.Length, UpgradeRequest.FindHeadLength(buffer));
        }
        // The terminator itself in four segments.
        Assert.Equal(ValidHead.Length, UpgradeRequest.FindHeadLength(Sequence(ValidHead[..^3], "\n", "\r", "\n")));
        Assert.Equal(-1, UpgradeRequest.FindHeadLength(Sequence(ValidHead[..^3], "\n", "\r")));
    }

    [Fact]
    public void ComputeAccept_matches_the_RFC_6455_example()
    {
        Span<byte> accept = stackalloc byte[28];
        UpgradeResponse.ComputeAccept("dGhlIHNhbXBsZSBub25jZQ==", accept);
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", Encoding.ASCII.GetString(accept));
    }

    [Fact]
    public void Response_is_a_101_with_the_accept_key_and_the_cookie()
    {
        var writer = new ArrayBufferWriter<byte>();
        UpgradeResponse.Write(writer, Key, null);
        Assert.Equal(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
            Encoding.ASCII.GetString(writer.WrittenSpan));

        writer.Clear();
        UpgradeResponse.Write(writer, Key, "io=abc; path=/; httponly; samesite=lax");
        Assert.Equal(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSet-Cookie: io=abc; path=/; httponly; samesite=lax\r\n\r\n",
            Encoding.ASCII.GetString(writer.WrittenSpan));
    }

    /// <summary>A sequence with one segment per string (Latin-1, so "\u0081" is the byte 0x81).</summary>
    private static ReadOnlySequence<byte> Sequence(params string[] parts)
    {
        var first = new Segment(Encoding.Latin1.GetBytes(parts[0]), 0);
        var last = first;
        foreach (var part in parts.Skip(1))
        {
            last = last.Append(Encoding.Latin1.GetBytes(part));
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
