namespace Tessera.Redis;

/// <summary>Cluster mode (<c>Tessera:Redis:*</c>).</summary>
public sealed class RedisOptions
{
    /// <summary>A StackExchange.Redis configuration string, e.g. "127.0.0.1:6379".</summary>
    public string Configuration { get; set; } = string.Empty;

    /// <summary>Channel prefix; "socket.io" is what Node's @socket.io/redis-adapter uses by default.</summary>
    public string KeyPrefix { get; set; } = "socket.io";

    /// <summary>How long a fetchSockets request waits for the other nodes.</summary>
    public TimeSpan RequestsTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
