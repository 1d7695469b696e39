using System.Collections.Concurrent;
using System.Text.Json;

namespace Tessera.Auth.Internal;

/// <summary>
/// The JSON the authentication layer sends (refusal data, <c>auth:*</c> events, <c>auth:refresh</c> answers), written
/// here with fixed names (shared/CONTRACT.md §3, §4) rather than serialised from anonymous objects: no reflection, so it
/// works under Native AOT, and the app's serializer options (a naming policy, say) cannot rename what clients read.
/// Payloads that depend only on a code are built once.
/// </summary>
internal static class AuthPayloads
{
    private static readonly ConcurrentDictionary<string, JsonElement> Refusals = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, JsonElement> Codes = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, JsonElement> RefreshRefusals = new(StringComparer.Ordinal);

    /// <summary>A CONNECT_ERROR's data: <c>{code, retryable}</c>.</summary>
    public static JsonElement Refusal(string code) => Refusals.GetOrAdd(code, static code => Build(code, static (w, code) =>
    {
        w.WriteString("code", code);
        w.WriteBoolean("retryable", AuthErrorCodes.IsRetryable(code));
    }));

    /// <summary><c>auth:revoked</c> / <c>auth:expired</c>: <c>{code}</c>.</summary>
    public static JsonElement Code(string code) => Codes.GetOrAdd(code, static code => Build(code, static (w, code) => w.WriteString("code", code)));

    /// <summary>A refused event's acknowledgement: <c>{error: {code}}</c>.</summary>
    public static readonly JsonElement Forbidden = Build(AuthErrorCodes.Forbidden, static (w, code) =>
    {
        w.WriteStartObject("error");
        w.WriteString("code", code);
        w.WriteEndObject();
    });

    /// <summary>A refused <c>auth:refresh</c>: <c>{ok: false, code}</c>.</summary>
    public static JsonElement RefreshRefused(string code) => RefreshRefusals.GetOrAdd(code, static code => Build(code, static (w, code) =>
    {
        w.WriteBoolean("ok", false);
        w.WriteString("code", code);
    }));

    /// <summary>An accepted <c>auth:refresh</c>: <c>{ok: true, expiresAt}</c> (Unix milliseconds).</summary>
    public static JsonElement RefreshAccepted(long expiresAt) => Build(expiresAt, static (w, exp) =>
    {
        w.WriteBoolean("ok", true);
        w.WriteNumber("expiresAt", exp);
    });

    /// <summary><c>auth:expiring</c>: <c>{expiresAt}</c> (Unix milliseconds).</summary>
    public static JsonElement Expiring(long expiresAt) => Build(expiresAt, static (w, exp) => w.WriteNumber("expiresAt", exp));

    private static JsonElement Build<T>(T state, Action<Utf8JsonWriter, T> members) => SocketIO.Internal.Json.Element((state, members), static (writer, s) =>
    {
        writer.WriteStartObject();
        s.members(writer, s.state);
        writer.WriteEndObject();
    });
}
