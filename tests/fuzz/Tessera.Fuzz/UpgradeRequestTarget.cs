using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Tessera.EngineIO;
using Tessera.EngineIO.Internal.WebSockets;
using static Tessera.Fuzz.FuzzInput;

namespace Tessera.Fuzz;

/// <summary>
/// The direct path's upgrade-request parser, as EngineIOConnectionMiddleware uses it: find the end of the head in
/// a pipe buffer (split where the input's first byte says), parse it, parse its query, build the handshake and
/// the 101 response. Whatever it accepts must be a plain WebSocket upgrade GET.
/// </summary>
public static class UpgradeRequestTarget
{
    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }
        var cut = input[0];
        var data = input.AsMemory(1);

        var expected = data.Span.IndexOf("\r\n\r\n"u8);
        var found = UpgradeRequest.FindHeadLength(Split(data, cut));
        Check(found == (expected < 0 ? -1 : expected + 4), $"FindHeadLength {found}, the blank line ends at {expected}");
        Check(UpgradeRequest.FindHeadLength(new ReadOnlySequence<byte>(data)) == found, "FindHeadLength differs on one segment");

        // The middleware parses the head it found; any complete head is worth parsing too.
        if (found > 0 && found <= UpgradeRequest.MaxHeadLength)
        {
            Parse(data.Span[..found]);
        }
        if (data.Span.EndsWith("\r\n\r\n"u8))
        {
            Parse(data.Span);
        }
    }

    private static void Parse(ReadOnlySpan<byte> head)
    {
        var request = UpgradeRequest.TryParse(head);
        if (request is null)
        {
            return;
        }
        Check(head.Length <= UpgradeRequest.MaxHeadLength && Ascii.IsValid(head), "a head too long or not ASCII accepted");
        Check(head.StartsWith("GET /"u8), "a request other than GET / accepted");
        var path = request.Path;
        Check(path.StartsWith('/') && path.IndexOfAny(['%', '?', '#', ' ', '\\']) < 0 && !path.Contains("/.", StringComparison.Ordinal)
            && !path.Contains("//", StringComparison.Ordinal) && path.All(c => c > ' ' && c < 0x7F), $"an unsafe path accepted: {path}");
        Check(request.QueryString.All(c => c > ' ' && c < 0x7F && c != '#'), "an unsafe query accepted");
        Check(request.Key.Length == 24 && Convert.FromBase64String(request.Key).Length == 16, "a bad Sec-WebSocket-Key accepted");
        var headers = request.Headers;
        Check(headers.Count <= 64, "more than 64 headers accepted");
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var host = 0;
        foreach (var (name, values) in headers)
        {
            Check(names.Add(name), $"header {name} listed twice");
            Check(name.Length > 0 && values.Count > 0, "an empty header name or no value");
            foreach (var value in values)
            {
                Check(value is not null && value.All(c => c is '\t' or (>= ' ' and < (char)0x7F)) && value == value.Trim(' ', '\t'),
                    $"header {name} has an untrimmed value or a control character");
            }
            host += name.Equals("Host", StringComparison.OrdinalIgnoreCase) ? values.Count : 0;
            Check(!name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase), "Transfer-Encoding accepted");
            Check(!name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || values.All(v => v == "0"), "a body accepted");
        }
        Check(host == 1, "not exactly one Host");
        Check(HasToken(headers, "Upgrade", "websocket") && HasToken(headers, "Connection", "upgrade"), "no Upgrade: websocket or Connection: upgrade");

        // What StartDirect does next.
        var query = QueryHelpers.ParseQuery(request.QueryString);
        var handshake = new EngineIOHandshake(headers, query, remote: null, request.Path, isSecure: false);
        Check(handshake.Headers.Count == headers.Count && handshake.Query.Count == query.Count, "the handshake lost headers or query parameters");
        var response = new ArrayBufferWriter<byte>();
        UpgradeResponse.Write(response, request.Key, setCookie: null);
        Check(Ascii.IsValid(response.WrittenSpan) && response.WrittenSpan.EndsWith("\r\n\r\n"u8), "a malformed 101 response");
    }

    private static bool HasToken(List<KeyValuePair<string, StringValues>> headers, string name, string token) =>
        headers.Any(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)
            && h.Value.Any(v => v!.Split(',').Any(t => t.Trim(' ', '\t').Equals(token, StringComparison.OrdinalIgnoreCase))));

    /// <summary>The bytes as a pipe might hold them: in segments of <paramref name="cut"/> + 1 bytes.</summary>
    private static ReadOnlySequence<byte> Split(ReadOnlyMemory<byte> data, byte cut)
    {
        var size = cut + 1;
        if (data.Length <= size)
        {
            return new ReadOnlySequence<byte>(data);
        }
        var first = new Segment(data[..size], 0);
        var last = first;
        for (var at = size; at < data.Length; at += size)
        {
            last = last.Append(data[at..Math.Min(data.Length, at + size)]);
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
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
