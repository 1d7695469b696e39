using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

using Tessera.Auth;

namespace Tessera.Accounts.Internal;

/// <summary>Issues access tokens (JWTs signed by the <see cref="SigningKeyRing"/>, <c>typ</c> at+jwt) and opaque refresh tokens.</summary>
internal sealed class TokenService
{
    private readonly AccountOptions _options;
    private readonly SigningKeyRing _keys;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };
    private readonly TimeProvider _time;

    public TokenService(IOptions<AccountOptions> options, SigningKeyRing keys, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(keys);
        _options = options.Value;
        _keys = keys;
        _time = time ?? TimeProvider.System;
    }

    public AccountOptions Options => _options;

    public (string Token, DateTimeOffset ExpiresAt, long ExpiresIn) IssueAccessToken(string subject, string name, string sessionId, TimeSpan? lifetime = null)
    {
        var now = _time.GetUtcNow();
        // exp has whole seconds: round up, so the token lives at least its configured lifetime and expiresIn
        // (the floor of what remains) equals that lifetime.
        var end = now + (lifetime ?? _options.AccessTokenLifetime);
        var expires = DateTimeOffset.FromUnixTimeSeconds((long)Math.Ceiling(end.ToUnixTimeMilliseconds() / 1000.0));
        var token = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Claims = new Dictionary<string, object>
            {
                ["sub"] = subject,
                ["name"] = name,
                ["jti"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
                ["sid"] = sessionId,
            },
            Issuer = _options.Issuer,
            Audience = _options.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            // The ring's current key; its KeyId becomes the header's kid (asymmetric keys).
            SigningCredentials = _keys.Current(),
            TokenType = "at+jwt",
        });
        return (token, expires, (long)Math.Floor((expires - now).TotalSeconds));
    }

    /// <summary>256 random bits, URL-safe: what the client holds. Only its hash is stored.</summary>
    public static string NewRefreshToken() => Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));

    public static string NewSessionId() => Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(16));

    public static string Hash(string refreshToken) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(refreshToken)));

    public DateTimeOffset Now => _time.GetUtcNow();
}
