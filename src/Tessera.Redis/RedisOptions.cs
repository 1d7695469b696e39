namespace Tessera.Redis;

/// <summary>Cluster mode (<c>Tessera:Redis:*</c>).</summary>
public sealed class RedisOptions
{
    /// <summary>A StackExchange.Redis configuration string, e.g. "127.0.0.1:6379".</summary>
    public string Configuration { get; set; } = string.Empty;

    /// <summary>
    /// Channel prefix; "socket.io" is what Node's @socket.io/redis-adapter uses by default (its <c>key</c> option,
    /// or <c>channelPrefix</c> with <see cref="Sharded"/>).
    /// </summary>
    public string KeyPrefix { get; set; } = "socket.io";

    /// <summary>
    /// How long a fetchSockets request waits for the other nodes, and a server-side emit with acks when no timeout
    /// is given (Node's <c>requestsTimeout</c>).
    /// </summary>
    public TimeSpan RequestsTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Redis 7 sharded pub/sub (SSUBSCRIBE / SPUBLISH), wire-compatible with Node's <c>createShardedAdapter</c>
    /// instead of <c>createAdapter</c>. Every node of the cluster must make the same choice: the two formats do not
    /// talk to each other.
    /// </summary>
    public bool Sharded { get; set; }

    /// <summary>With <see cref="Sharded"/>: which rooms get a channel of their own (Node's <c>subscriptionMode</c>).</summary>
    public RedisSubscriptionMode SubscriptionMode { get; set; } = RedisSubscriptionMode.Dynamic;
}

/// <summary>Which rooms the sharded adapter gives a channel of their own (Node's <c>subscriptionMode</c>).</summary>
public enum RedisSubscriptionMode
{
    /// <summary>
    /// One channel per namespace, <c>&lt;prefix&gt;#&lt;nsp&gt;#</c>: every node receives every broadcast (Node's "static").
    /// </summary>
    Static,

    /// <summary>
    /// Broadcasts to one room other than a socket's own go on <c>&lt;prefix&gt;#&lt;nsp&gt;#&lt;room&gt;#</c>, which
    /// only nodes with a socket in that room subscribe to (Node's "dynamic", its default).
    /// </summary>
    Dynamic,

    /// <summary>As <see cref="Dynamic"/>, sockets' own rooms included: one channel per connected socket (Node's "dynamic-private").</summary>
    DynamicPrivate,
}
