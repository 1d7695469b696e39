using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace Tessera.Auth;

/// <summary>How Socket.IO handshakes are authenticated with JWTs. Secure defaults; see docs/authentication.md.</summary>
public sealed class JwtAuthenticationOptions
{
    /// <summary>
    /// Required <c>iss</c>. When null, the OpenID Connect authority's issuer is required instead; with neither, the
    /// application refuses to start unless <see cref="AllowAnyIssuer"/> is set.
    /// </summary>
    public string? Issuer { get; set; }

    /// <summary>
    /// Required <c>aud</c>. When null, the application refuses to start unless <see cref="AllowAnyAudience"/> is set.
    /// </summary>
    public string? Audience { get; set; }

    /// <summary>
    /// Accept tokens whatever their <c>iss</c> (or none) when neither <see cref="Issuer"/> nor an OpenID Connect
    /// <see cref="Authority"/> / <see cref="MetadataAddress"/> is set (as JwtBearer's <c>ValidateIssuer = false</c>).
    /// Default false: an unset issuer is a configuration error, not a silent "anyone". A set issuer is always checked.
    /// </summary>
    public bool AllowAnyIssuer { get; set; }

    /// <summary>
    /// Accept tokens whatever their <c>aud</c> (or none) when <see cref="Audience"/> is null (as JwtBearer's
    /// <c>ValidateAudience = false</c>). Default false: an unset audience is a configuration error. A set audience is
    /// always checked.
    /// </summary>
    public bool AllowAnyAudience { get; set; }

    /// <summary>Tolerance on <c>exp</c> and <c>nbf</c>.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Accepted header <c>typ</c> values, so a refresh or ID token is never taken for an access token.</summary>
    public IList<string> ValidTokenTypes { get; } = new List<string> { "at+jwt", "application/at+jwt" };

    /// <summary>Whether tokens without <c>exp</c> are refused (they would never expire).</summary>
    public bool RequireExpirationTime { get; set; } = true;

    /// <summary>Tokens longer than this (bytes) are refused unread as invalid.</summary>
    public int MaxTokenLength { get; set; } = 8 * 1024;

    /// <summary>Verification keys: HMAC secrets and RSA / ECDSA public keys (several at once for rotation).</summary>
    public IList<SecurityKey> SigningKeys { get; } = new List<SecurityKey>();

    /// <summary>
    /// Sources of verification keys that change while the application runs (a rotating key ring): asked for their keys at every
    /// verification, and to refresh when a token names a <c>kid</c> none of them knows.
    /// </summary>
    public IList<ISigningKeySource> SigningKeySources { get; } = new List<ISigningKeySource>();

    /// <summary>An OpenID Connect issuer (Keycloak, Auth0, Entra …): its discovery document gives the JWKS.</summary>
    public string? Authority { get; set; }

    /// <summary>The discovery document's address; defaults to Authority + "/.well-known/openid-configuration".</summary>
    public string? MetadataAddress { get; set; }

    /// <summary>Refuse plain-HTTP discovery documents (turn off only for loopback tests).</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    /// <summary>Least time between two JWKS refetches triggered by an unknown <c>kid</c>.</summary>
    public TimeSpan MetadataRefreshInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Accept <c>?token=</c> in the handshake URL (never logged).</summary>
    public bool AllowQueryToken { get; set; } = true;

    /// <summary>Name of the cookie holding an access token (for browsers using httpOnly cookies).</summary>
    public string CookieName { get; set; } = "access_token";

    /// <summary>How long before <c>exp</c> a connected socket is sent <c>auth:expiring</c>.</summary>
    public TimeSpan ExpiryWarning { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Namespaces that require a token; null means every namespace. Others stay anonymous
    /// (their sockets have an empty <c>User</c>).
    /// </summary>
    public ISet<string>? Namespaces { get; set; }

    /// <summary>How many verified tokens are remembered so a reconnect storm does not verify each twice.</summary>
    public int CacheSize { get; set; } = 10_000;

    /// <summary>Adds an HMAC secret (HS256/384/512): its UTF-8 bytes, or raw bytes after a <c>base64:</c> prefix.</summary>
    public JwtAuthenticationOptions AddHmacSecret(string secret, string? keyId = null)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var bytes = secret.StartsWith("base64:", StringComparison.Ordinal)
            ? Convert.FromBase64String(secret["base64:".Length..])
            : Encoding.UTF8.GetBytes(secret);
        return AddHmacSecret(bytes, keyId);
    }

    /// <summary>Adds an HMAC secret (HS256/384/512) from its raw bytes.</summary>
    /// <param name="secret">The secret; at least 32 bytes.</param>
    /// <param name="keyId">The key's <c>kid</c>: a token naming another <c>kid</c> is not verified with it. Null: tried for every token.</param>
    /// <returns>These options, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="secret"/> is null.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="secret"/> is shorter than 32 bytes.</exception>
    public JwtAuthenticationOptions AddHmacSecret(byte[] secret, string? keyId = null)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (secret.Length < 32)
        {
            throw new InvalidOperationException(
                $"The JWT signing secret is {secret.Length} bytes; HS256 needs at least 32 bytes (256 bits). Use a longer secret.");
        }
        SigningKeys.Add(new SymmetricSecurityKey(secret) { KeyId = keyId });
        return this;
    }

    /// <summary>Adds an RSA or ECDSA public key from PEM text ("-----BEGIN PUBLIC KEY-----" …).</summary>
    public JwtAuthenticationOptions AddPublicKeyPem(string pem, string? keyId = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(pem);
        SigningKeys.Add(PemKeys.Parse(pem, keyId));
        return this;
    }

    /// <summary>
    /// Adds an RSA or ECDSA public key from a PEM file (see <see cref="AddPublicKeyPem"/>); the file is read at once.
    /// Without <paramref name="keyId"/>, the key's <c>kid</c> is the file name without its extension, so a token naming
    /// another <c>kid</c> is not verified with it.
    /// </summary>
    /// <returns>These options, for chaining.</returns>
    /// <exception cref="InvalidOperationException">The file holds neither an RSA nor an ECDSA public key.</exception>
    public JwtAuthenticationOptions AddPublicKeyFile(string path, string? keyId = null) =>
        AddPublicKeyPem(File.ReadAllText(path), keyId ?? Path.GetFileNameWithoutExtension(path));

    /// <summary>
    /// An ASP.NET Core authentication scheme (e.g. "Bearer" for JwtBearer, "Cookies") that authenticates sockets
    /// instead of Tessera's own validation; null (the default) uses <see cref="SigningKeys"/> or
    /// <see cref="Authority"/>. See <c>AddAuthenticationScheme</c>.
    /// </summary>
    public string? AuthenticationScheme { get; set; }

    /// <summary>What is wrong with these options, or null.</summary>
    internal string? Problem()
    {
        if (AuthenticationScheme is null && SigningKeys.Count == 0 && SigningKeySources.Count == 0 && Authority is null && MetadataAddress is null)
        {
            return "JWT authentication needs a signing key (AddHmacSecret, AddPublicKeyPem), an OpenID Connect Authority, or an AuthenticationScheme.";
        }
        if (AuthenticationScheme is null)
        {
            // The scheme path validates nothing itself: the scheme's own options decide issuer and audience.
            if (Issuer is null && Authority is null && MetadataAddress is null && !AllowAnyIssuer)
            {
                return "JwtAuthenticationOptions: set Issuer (the required iss), an OpenID Connect Authority, or AllowAnyIssuer = true to accept tokens from any issuer.";
            }
            if (Audience is null && !AllowAnyAudience)
            {
                return "JwtAuthenticationOptions: set Audience (the required aud), or AllowAnyAudience = true to accept tokens for any audience.";
            }
        }
        foreach (var key in SigningKeys)
        {
            if (key is SymmetricSecurityKey symmetric && symmetric.Key.Length < 32)
            {
                return $"The JWT signing secret is {symmetric.Key.Length} bytes; HS256 needs at least 32 bytes.";
            }
        }
        if (MaxTokenLength <= 0 || ClockSkew < TimeSpan.Zero)
        {
            return "JwtAuthenticationOptions: MaxTokenLength must be positive and ClockSkew not negative.";
        }
        if (ExpiryWarning < TimeSpan.Zero)
        {
            return "JwtAuthenticationOptions: ExpiryWarning must not be negative.";
        }
        return null;
    }

    internal void Validate()
    {
        if (Problem() is { } problem)
        {
            throw new InvalidOperationException(problem);
        }
    }
}

internal static class PemKeys
{
    public static SecurityKey Parse(string pem, string? keyId)
    {
        // Try RSA first, then ECDSA: the PEM label does not say which for SubjectPublicKeyInfo.
        try
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            return new RsaSecurityKey(rsa) { KeyId = keyId };
        }
        catch (CryptographicException)
        {
        }
        catch (ArgumentException)
        {
        }
        try
        {
            var ecdsa = ECDsa.Create();
            ecdsa.ImportFromPem(pem);
            return new ECDsaSecurityKey(ecdsa) { KeyId = keyId };
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException("The PEM text is neither an RSA nor an ECDSA public key.", ex);
        }
    }
}
