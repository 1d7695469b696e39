using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Tessera.Auth.Tests;

/// <summary>Mints test tokens with Microsoft.IdentityModel, and forges bad ones by hand.</summary>
public static class Tokens
{
    public const string Secret = "test-secret-that-is-long-enough-for-hs256!";
    public const string Issuer = "tessera";
    public const string Audience = "tessera";

    public static readonly RSA Rsa = RSA.Create(2048);
    public static readonly ECDsa Ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public static SymmetricSecurityKey HmacKey { get; } = new(Encoding.UTF8.GetBytes(Secret));

    public static string Create(
        string sub = "alice",
        string? name = "Alice",
        TimeSpan? lifetime = null,
        SigningCredentials? credentials = null,
        string type = "at+jwt",
        string? issuer = Issuer,
        string? audience = Audience,
        DateTime? notBefore = null,
        string? sid = "session-1",
        IDictionary<string, object>? extra = null,
        bool withExpiry = true,
        IDictionary<string, object>? header = null)
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object> { ["sub"] = sub, ["jti"] = Guid.NewGuid().ToString("N") };
        if (name is not null)
        {
            claims["name"] = name;
        }
        if (sid is not null)
        {
            claims["sid"] = sid;
        }
        foreach (var (key, value) in extra ?? new Dictionary<string, object>())
        {
            claims[key] = value;
        }
        var descriptor = new SecurityTokenDescriptor
        {
            Claims = claims,
            Issuer = issuer,
            Audience = audience,
            IssuedAt = now,
            NotBefore = notBefore ?? now,
            Expires = withExpiry ? now + (lifetime ?? TimeSpan.FromMinutes(10)) : null,
            SigningCredentials = credentials ?? new SigningCredentials(HmacKey, SecurityAlgorithms.HmacSha256),
            TokenType = type,
            AdditionalHeaderClaims = header,
        };
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = withExpiry };
        return handler.CreateToken(descriptor);
    }

    public static string B64(string json) => Base64UrlEncoder.Encode(json);

    public static string B64(byte[] bytes) => Base64UrlEncoder.Encode(bytes);

    /// <summary>A token with an arbitrary header, signed with HMAC-SHA256 over <paramref name="secret"/>.</summary>
    public static string Forge(string headerJson, string payloadJson, byte[] secret)
    {
        var signingInput = B64(headerJson) + "." + B64(payloadJson);
        using var hmac = new HMACSHA256(secret);
        return signingInput + "." + B64(hmac.ComputeHash(Encoding.ASCII.GetBytes(signingInput)));
    }

    public static string Payload(string sub = "mallory", long? exp = null) =>
        $"{{\"sub\":\"{sub}\",\"iss\":\"{Issuer}\",\"aud\":\"{Audience}\",\"exp\":{exp ?? DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds()}}}";
}
