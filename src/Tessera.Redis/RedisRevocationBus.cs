using System.Text.Json;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Tessera.Auth;
using Tessera.Auth.Accounts;

namespace Tessera.Redis;

/// <summary>
/// Revocations carried to every node over Redis (channel <c>tessera#revocations</c>): a logout on node A
/// disconnects the session's sockets on node B at once. The store's revocation log remains the fallback.
/// </summary>
public sealed partial class RedisRevocationBus : IRevocationBus
{
    private static readonly RedisChannel Channel = RedisChannel.Literal("tessera#revocations");
    private readonly RedisConnection _redis;
    private readonly LocalRevocationBus _local;
    private readonly ILogger _logger;
    private readonly string _origin = Guid.NewGuid().ToString("N");

    public RedisRevocationBus(RedisConnection redis, AuthenticatedSockets sockets, StoreRevocation revocation, ILogger<RedisRevocationBus> logger)
    {
        _redis = redis;
        _local = new LocalRevocationBus(sockets, revocation);
        _logger = logger;
        redis.Multiplexer.GetSubscriber().Subscribe(Channel, (_, message) => OnMessage(message));
    }

    private sealed record Notice(string Origin, string? SessionId, string? UserId);

    public async ValueTask RevokeSessionAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        await _local.RevokeSessionAsync(sessionId, cancellationToken).ConfigureAwait(false);
        await PublishAsync(new Notice(_origin, sessionId, null)).ConfigureAwait(false);
    }

    public async ValueTask RevokeUserAsync(string userId, CancellationToken cancellationToken = default)
    {
        await _local.RevokeUserAsync(userId, cancellationToken).ConfigureAwait(false);
        await PublishAsync(new Notice(_origin, null, userId)).ConfigureAwait(false);
    }

    private async Task PublishAsync(Notice notice)
    {
        if (!_redis.IsConnected)
        {
            _redis.ReportSkipped();
            return;
        }
        try
        {
            await _redis.Multiplexer.GetSubscriber().PublishAsync(Channel, JsonSerializer.SerializeToUtf8Bytes(notice)).ConfigureAwait(false);
        }
        catch (RedisException ex)
        {
            Log.PublishFailed(_logger, ex);
        }
    }

    private void OnMessage(RedisValue message)
    {
        try
        {
            var notice = JsonSerializer.Deserialize<Notice>((byte[])message!);
            if (notice is null || notice.Origin == _origin)
            {
                return;
            }
            if (notice.SessionId is { } session)
            {
                _ = _local.RevokeSessionAsync(session);
            }
            else if (notice.UserId is { } user)
            {
                _ = _local.RevokeUserAsync(user);
            }
        }
        catch (JsonException)
        {
            // Not ours to interpret.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(421, LogLevel.Warning, "Publishing a revocation over Redis failed; other nodes learn it from the store's log.")]
        public static partial void PublishFailed(ILogger logger, Exception exception);
    }
}
