namespace Tessera.Accounts;

/// <summary>A counter's value after an increment, and how long until its window ends and it starts again from zero.</summary>
/// <param name="Count">The count within the current window, this increment included.</param>
/// <param name="Remaining">Time left in the window (the <c>Retry-After</c> of a refusal).</param>
public readonly record struct RateCount(long Count, TimeSpan Remaining);

/// <summary>
/// The counters behind the account endpoints' rate limits (<see cref="AccountOptions.LoginsPerMinutePerAddress"/>,
/// <see cref="AccountOptions.FailedLoginsPerMinute"/>): fixed windows that start at a counter's first increment. The default
/// counts on this node; an implementation over shared storage (the server registers one over Redis in cluster mode) makes
/// the limits cluster-wide, so adding nodes does not multiply an attacker's budget. Register it before <c>AddAccounts</c> or
/// replace the service.
/// </summary>
public interface IAccountRateCounter
{
    /// <summary>Adds one to <paramref name="key"/>; a counter not yet counting starts a window of <paramref name="window"/>.</summary>
    ValueTask<RateCount> IncrementAsync(string key, TimeSpan window, CancellationToken cancellationToken = default);

    /// <summary>Takes one back from <paramref name="key"/> (what was counted did not happen); nothing if its window has ended.</summary>
    ValueTask DecrementAsync(string key, CancellationToken cancellationToken = default);
}
