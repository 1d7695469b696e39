using Microsoft.Extensions.Options;
using Tessera.SocketIO;

namespace Tessera.Server;

/// <summary>Per-client bounds of the server (CONTRACT §2 <c>Tessera:Limits:*</c>), so one client cannot degrade the others.</summary>
public sealed class ServerLimits
{
    /// <summary>Engine.IO sessions open at once per client address (IPv6: per /64); more get HTTP 429.</summary>
    public int ConnectionsPerAddress { get; set; } = 1000;

    /// <summary>Chat rooms one socket may join; more get ack <c>{ok:false, code:"too_many_rooms"}</c>.</summary>
    public int RoomsPerSocket { get; set; } = 100;

    /// <summary>Events one socket may send per second (bursts of twice as many); more are dropped, acked <c>rate_limited</c>.</summary>
    public int EventsPerSecond { get; set; } = 100;

    /// <summary>
    /// Connections per client address still sending their first request head (slowloris); more are closed at once.
    /// On the direct WebSocket path only, so not behind a proxy, where the proxy sends whole heads anyway. As many as
    /// ConnectionsPerAddress by default: a thousand clients behind one address connecting at the same moment all
    /// have their heads in flight at once.
    /// </summary>
    public int PendingRequestHeadsPerAddress { get; set; } = 1000;

    /// <summary>New Engine.IO sessions a second per client address (bursts of twice as many, or of ConnectionsPerAddress
    /// if more); more get HTTP 429.</summary>
    public int HandshakesPerSecondPerAddress { get; set; } = 100;

    internal string? Problem() =>
        ConnectionsPerAddress <= 0 ? "Tessera:Limits:ConnectionsPerAddress must be a positive number."
        : PendingRequestHeadsPerAddress <= 0 ? "Tessera:Limits:PendingRequestHeadsPerAddress must be a positive number."
        : HandshakesPerSecondPerAddress is <= 0 or > 1_000_000 ? "Tessera:Limits:HandshakesPerSecondPerAddress must be between 1 and 1,000,000."
        : RoomsPerSocket <= 0 ? "Tessera:Limits:RoomsPerSocket must be a positive number."
        : EventsPerSecond <= 0 ? "Tessera:Limits:EventsPerSecond must be a positive number."
        : null;
}

internal sealed class ServerLimitsValidation : IValidateOptions<ServerLimits>
{
    public ValidateOptionsResult Validate(string? name, ServerLimits options) =>
        options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}

/// <summary>
/// A token bucket per socket, in its features: <see cref="ServerLimits.EventsPerSecond"/> tokens a second, up to
/// twice that in store. Events over it are dropped; one that asked for an ack is told <c>rate_limited</c>, and the
/// client's connection is not read again until the next token (SocketIOSocket.ThrottleIncoming).
/// </summary>
internal sealed class EventRateLimit(int perSecond)
{
    private readonly Lock _lock = new();
    private double _tokens = 2 * perSecond;
    private long _last = Environment.TickCount64;

    /// <summary>Takes a token; when none is left, <paramref name="wait"/> is how long until the next one.</summary>
    private bool TryTake(out TimeSpan wait)
    {
        lock (_lock)
        {
            var now = Environment.TickCount64;
            _tokens = Math.Min(2 * perSecond, _tokens + (now - _last) * perSecond / 1000.0);
            _last = now;
            if (_tokens < 1)
            {
                wait = TimeSpan.FromMilliseconds(Math.Ceiling((1 - _tokens) * 1000.0 / perSecond));
                return false;
            }
            _tokens--;
            wait = TimeSpan.Zero;
            return true;
        }
    }

    public static void Apply(SocketIONamespace ns, int perSecond) => ns.UseEventMiddleware((e, next) =>
    {
        var limit = e.Socket.Features.Get<EventRateLimit>();
        if (limit is null)
        {
            limit = new EventRateLimit(perSecond);
            e.Socket.Features.Set(limit);
        }
        if (limit.TryTake(out var wait))
        {
            return next();
        }
        e.Ack(new { ok = false, code = "rate_limited" });
        // And the client's next packet waits until a token is back: a flood is then read at about twice the limit
        // (one accepted, one refused per token) instead of as fast as it is sent, and costs the server no more.
        e.Socket.ThrottleIncoming(wait);
        return ValueTask.CompletedTask;
    });
}
