using Microsoft.IdentityModel.Tokens;

namespace Tessera.Auth;

/// <summary>
/// Verification keys that change at run time (<see cref="JwtAuthenticationOptions.SigningKeySources"/>): a key ring that
/// rotates, kept in a store that other nodes write to.
/// </summary>
public interface ISigningKeySource
{
    /// <summary>The keys tokens may be verified with now, each with its <c>KeyId</c>.</summary>
    IReadOnlyList<SecurityKey> Keys { get; }

    /// <summary>
    /// Reloads the keys because a token names a <c>kid</c> not among them (another node may have rotated). Implementations
    /// bound how often this reaches their store, since any client can send unknown kids.
    /// </summary>
    ValueTask RefreshAsync(CancellationToken cancellationToken = default);
}
