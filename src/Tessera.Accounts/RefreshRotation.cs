namespace Tessera.Accounts;

/// <summary>
/// The rules of refresh-token rotation (docs/tokens.md), the same in every <see cref="IAccountStore"/>: given what the store
/// holds for a presented token, what the refresh does. A store reads the token's row under a lock, asks
/// <see cref="Decide"/>, and carries the answer out in the same transaction.
/// </summary>
public static class RefreshRotation
{
    /// <summary>What a refresh with this token does.</summary>
    /// <param name="expiresAt">The token's expiry.</param>
    /// <param name="usedAt">When it was first traded (rotated), or null if never.</param>
    /// <param name="sessionDead">Its session is revoked or its user disabled.</param>
    /// <param name="now">The refresh's time.</param>
    /// <param name="reuseGrace"><see cref="AccountOptions.RefreshReuseGrace"/>; zero is strict reuse detection.</param>
    /// <returns>
    /// <see cref="RefreshOutcome.Rotated"/>: mark it used and store the new token; <see cref="RefreshOutcome.ReusedWithinGrace"/>:
    /// store the new token in the same session, leaving this one as it is (its first use stays the start of the grace, so the
    /// window never slides); <see cref="RefreshOutcome.Reused"/>: the theft signal, revoke the whole session;
    /// <see cref="RefreshOutcome.Invalid"/> or <see cref="RefreshOutcome.Expired"/>: change nothing.
    /// </returns>
    public static RefreshOutcome Decide(DateTimeOffset expiresAt, DateTimeOffset? usedAt, bool sessionDead, DateTimeOffset now, TimeSpan reuseGrace)
    {
        if (usedAt is { } used)
        {
            // Within the grace of its first rotation, in a live session: another tab of the same client, most likely.
            if (reuseGrace > TimeSpan.Zero && !sessionDead && now - used <= reuseGrace)
            {
                return expiresAt <= now ? RefreshOutcome.Expired : RefreshOutcome.ReusedWithinGrace;
            }
            // Whoever holds the rotated token, the session is over for everyone.
            return RefreshOutcome.Reused;
        }
        if (sessionDead)
        {
            return RefreshOutcome.Invalid;
        }
        return expiresAt <= now ? RefreshOutcome.Expired : RefreshOutcome.Rotated;
    }
}
