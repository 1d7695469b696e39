using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Tessera.Accounts.Internal;

/// <summary>
/// The published verification keys (RFC 7517 JWKS) and a discovery document (OpenID Connect Discovery's
/// <c>issuer</c> and <c>jwks_uri</c>, what JwtBearer's <c>Authority</c> reads). Never for HS256: a secret is not published.
/// </summary>
internal static class WellKnown
{
    public const string JwksPath = "/.well-known/jwks.json";
    public const string DiscoveryPath = "/.well-known/openid-configuration";

    public static IResult Jwks(HttpContext context, SigningKeyRing ring)
    {
        var keys = ring.Published.Select(Jwk).ToList();
        CacheFor(context, ring);
        return Results.Json(new { keys });
    }

    public static IResult Discovery(HttpContext context, SigningKeyRing ring, IOptions<AccountOptions> options)
    {
        var request = context.Request;
        CacheFor(context, ring);
        return Results.Json(new
        {
            issuer = options.Value.Issuer,
            // From the request as forwarded headers leave it: the address the caller reached this node by.
            jwks_uri = $"{request.Scheme}://{request.Host.Value}{request.PathBase.Value}{JwksPath}",
            id_token_signing_alg_values_supported = new[] { ring.Algorithm },
        });
    }

    /// <summary>Caches may keep the keys a quarter of the publication lead (at most an hour): a new key is still seen before it signs.</summary>
    private static void CacheFor(HttpContext context, SigningKeyRing ring)
    {
        var seconds = (long)Math.Min(TimeSpan.FromHours(1).TotalSeconds, ring.MaintenanceInterval.TotalSeconds);
        context.Response.Headers.CacheControl = seconds >= 1 ? "public, max-age=" + seconds.ToString(CultureInfo.InvariantCulture) : "no-cache";
    }

    private static Dictionary<string, string> Jwk(RingKey key)
    {
        var jwk = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["kid"] = key.KeyId,
            ["use"] = "sig",
            ["alg"] = key.Algorithm,
        };
        switch (key.Key)
        {
            case ECDsaSecurityKey ec:
                var p = ec.ECDsa.ExportParameters(false);
                jwk["kty"] = "EC";
                jwk["crv"] = "P-256";
                jwk["x"] = Base64UrlEncoder.Encode(p.Q.X);
                jwk["y"] = Base64UrlEncoder.Encode(p.Q.Y);
                break;
            case RsaSecurityKey rsa:
                var r = rsa.Rsa is { } alg ? alg.ExportParameters(false) : rsa.Parameters;
                jwk["kty"] = "RSA";
                jwk["n"] = Base64UrlEncoder.Encode(r.Modulus);
                jwk["e"] = Base64UrlEncoder.Encode(r.Exponent);
                break;
            default:
                throw new CryptographicException("Only EC and RSA keys are published.");
        }
        return jwk;
    }
}
