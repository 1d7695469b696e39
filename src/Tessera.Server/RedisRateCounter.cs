using StackExchange.Redis;
using Tessera.Accounts;
using Tessera.Accounts.Internal;

namespace Tessera.Server;

/// <summary>
/// Cluster mode (CONTRACT §2: "with Redis, rate limits count across the cluster"): the account endpoints' counters in Redis,
/// one key per counter (<c>tessera:rl:…</c>) whose TTL is its window, updated by a script so increment and expiry are one
/// step. While Redis is unreachable each node counts on its own (the local counters), as it keeps serving its own clients.
/// </summary>
internal sealed partial class RedisRateCounter(IConnectionMultiplexer redis, ILogger<RedisRateCounter> logger) : IAccountRateCounter
{
    private const string Prefix = "tessera:rl:";

    // INCR, and on the first increment of a window its expiry; a key found without one (never expected) gets it too.
    private static readonly LuaScript Increment = LuaScript.Prepare("""
        local count = redis.call('INCR', @key)
        local ttl = redis.call('PTTL', @key)
        if count == 1 or ttl < 0 then
          redis.call('PEXPIRE', @key, @window)
          ttl = tonumber(@window)
        end
        return { count, ttl }
        """);

    // Only within a live window, and never below zero: a DECR of a key that has expired would create one without a TTL.
    private static readonly LuaScript Decrement = LuaScript.Prepare("""
        local count = tonumber(redis.call('GET', @key))
        if count and count > 0 then redis.call('DECR', @key) end
        return 0
        """);

    private readonly LocalRateCounter _local = new();
    private int _reported;

    public async ValueTask<RateCount> IncrementAsync(string key, TimeSpan window, CancellationToken cancellationToken = default)
    {
        if (redis.IsConnected)
        {
            try
            {
                var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(Increment, new { key = (RedisKey)(Prefix + key), window = (long)window.TotalMilliseconds }).ConfigureAwait(false))!;
                Interlocked.Exchange(ref _reported, 0);
                return new RateCount((long)result[0], TimeSpan.FromMilliseconds((long)result[1]));
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                Report(ex);
            }
        }
        return await _local.IncrementAsync(key, window, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DecrementAsync(string key, CancellationToken cancellationToken = default)
    {
        if (redis.IsConnected)
        {
            try
            {
                await redis.GetDatabase().ScriptEvaluateAsync(Decrement, new { key = (RedisKey)(Prefix + key) }).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                Report(ex);
            }
        }
        await _local.DecrementAsync(key, cancellationToken).ConfigureAwait(false);
    }

    private void Report(Exception ex)
    {
        if (Interlocked.Exchange(ref _reported, 1) == 0)
        {
            Log.CountingLocally(logger, ex.GetType().Name);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(601, LogLevel.Warning, "Redis did not answer a rate-limit count ({Error}): this node counts logins on its own until it does.")]
        public static partial void CountingLocally(ILogger logger, string error);
    }
}
