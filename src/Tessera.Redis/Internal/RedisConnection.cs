using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Tessera.Redis.Internal;

/// <summary>
/// The node's connection to Redis. It is opened at start without failing if Redis is down; StackExchange.Redis
/// reconnects and resubscribes by itself, and until then each node serves its own clients.
/// </summary>
internal sealed partial class RedisConnection : IHostedService, IDisposable
{
    private readonly ILogger _logger;
    private int _skippedReported;

    public RedisConnection(IOptions<RedisOptions> options, ILogger<RedisConnection> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Value;
        _logger = logger;
        var configuration = ConfigurationOptions.Parse(Options.Configuration);
        configuration.AbortOnConnectFail = false;
        configuration.ConnectTimeout = 2000;
        configuration.ReconnectRetryPolicy = new ExponentialRetry(250, 2000);
        Multiplexer = ConnectionMultiplexer.Connect(configuration);
        Multiplexer.ConnectionFailed += (_, e) => Log.Lost(_logger, e.FailureType.ToString());
        Multiplexer.ConnectionRestored += (_, e) =>
        {
            Interlocked.Exchange(ref _skippedReported, 0);
            Log.Restored(_logger);
        };
    }

    public RedisOptions Options { get; }

    public IConnectionMultiplexer Multiplexer { get; }

    public bool IsConnected => Multiplexer.IsConnected;

    /// <summary>A cross-node message was not sent because Redis is away; logged once per outage.</summary>
    internal void ReportSkipped()
    {
        if (Interlocked.Exchange(ref _skippedReported, 1) == 0)
        {
            Log.Skipping(_logger);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => Multiplexer.Dispose();

    private static partial class Log
    {
        [LoggerMessage(411, LogLevel.Warning, "Lost the connection to Redis ({Failure}); serving local clients only until it returns.")]
        public static partial void Lost(ILogger logger, string failure);

        [LoggerMessage(412, LogLevel.Information, "Reconnected to Redis; cross-node delivery resumes.")]
        public static partial void Restored(ILogger logger);

        [LoggerMessage(413, LogLevel.Warning, "Redis is unavailable: cross-node messages are being dropped until it returns.")]
        public static partial void Skipping(ILogger logger);
    }
}
