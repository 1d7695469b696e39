using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Tessera.Auth.Tests;

public class KeyConfigurationTests
{
    [Fact]
    public async Task Several_pem_public_keys_are_active_at_once_for_rotation()
    {
        using var oldRsa = RSA.Create(2048);
        using var newEc = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var options = new JwtAuthenticationOptions { Issuer = Tokens.Issuer, Audience = Tokens.Audience };
        options.AddPublicKeyPem(oldRsa.ExportSubjectPublicKeyInfoPem(), "2026-10");
        options.AddPublicKeyPem(newEc.ExportSubjectPublicKeyInfoPem(), "2026-11");
        var validator = new AccessTokenValidator(Options.Create(options));

        var byOld = Tokens.Create(sub: "a", credentials: new SigningCredentials(new RsaSecurityKey(oldRsa) { KeyId = "2026-10" }, SecurityAlgorithms.RsaSha256));
        var byNew = Tokens.Create(sub: "b", credentials: new SigningCredentials(new ECDsaSecurityKey(newEc) { KeyId = "2026-11" }, SecurityAlgorithms.EcdsaSha256));
        Assert.Equal("a", (await validator.ValidateAsync(byOld)).Subject);
        Assert.Equal("b", (await validator.ValidateAsync(byNew)).Subject);

        using var retired = RSA.Create(2048);
        var byRetired = Tokens.Create(credentials: new SigningCredentials(new RsaSecurityKey(retired) { KeyId = "2026-09" }, SecurityAlgorithms.RsaSha256));
        Assert.Equal(AuthErrorCodes.TokenInvalid, (await validator.ValidateAsync(byRetired)).ErrorCode);
    }

    [Fact]
    public void Without_a_configured_issuer_or_audience_the_validator_refuses_to_be_created()
    {
        var noIssuer = new JwtAuthenticationOptions { Audience = Tokens.Audience };
        noIssuer.AddHmacSecret(Tokens.Secret);
        Assert.Contains("AllowAnyIssuer", Assert.Throws<InvalidOperationException>(() => new AccessTokenValidator(Options.Create(noIssuer))).Message);
        var noAudience = new JwtAuthenticationOptions { Issuer = Tokens.Issuer };
        noAudience.AddHmacSecret(Tokens.Secret);
        Assert.Contains("AllowAnyAudience", Assert.Throws<InvalidOperationException>(() => new AccessTokenValidator(Options.Create(noAudience))).Message);
        // An authentication scheme validates tokens itself: neither is needed.
        Assert.Null(new JwtAuthenticationOptions { AuthenticationScheme = "Bearer" }.Problem());
    }

    [Fact]
    public async Task With_any_issuer_and_audience_allowed_any_or_none_is_accepted()
    {
        var options = new JwtAuthenticationOptions { AllowAnyIssuer = true, AllowAnyAudience = true };
        options.AddHmacSecret(Tokens.Secret);
        options.ValidTokenTypes.Add("JWT");
        var validator = new AccessTokenValidator(Options.Create(options));
        Assert.True((await validator.ValidateAsync(Tokens.Create(issuer: null, audience: null, type: "JWT"))).IsValid);
        Assert.True((await validator.ValidateAsync(Tokens.Create(issuer: "anyone", audience: "anything"))).IsValid);
    }

    [Fact]
    public void Pem_that_is_not_a_public_key_is_a_clear_configuration_error()
    {
        var options = new JwtAuthenticationOptions();
        var error = Assert.Throws<InvalidOperationException>(() => options.AddPublicKeyPem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"));
        Assert.Contains("neither an RSA nor an ECDSA public key", error.Message);
    }

    [Fact]
    public void Base64_secret_prefix_gives_raw_bytes_and_short_ones_are_refused()
    {
        var options = new JwtAuthenticationOptions();
        options.AddHmacSecret("base64:" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        Assert.Equal(32, ((SymmetricSecurityKey)options.SigningKeys[0]).Key.Length);
        var error = Assert.Throws<InvalidOperationException>(() => options.AddHmacSecret("base64:" + Convert.ToBase64String(new byte[16])));
        Assert.Contains("16 bytes", error.Message);
    }
}

/// <summary>
/// A mis-signed HMAC token is refused before IdentityModel's full validation (AccessTokenValidator's fast check):
/// these pin down that the shortcut refuses exactly what the full validation would and nothing it would accept.
/// </summary>
public class SignatureShortcutTests
{
    private static AccessTokenValidator Validator(Action<JwtAuthenticationOptions>? configure = null)
    {
        var options = new JwtAuthenticationOptions { Issuer = Tokens.Issuer, Audience = Tokens.Audience };
        configure?.Invoke(options);
        if (options.SigningKeys.Count == 0)
        {
            options.AddHmacSecret(Tokens.Secret);
        }
        return new AccessTokenValidator(Options.Create(options));
    }

    private static SigningCredentials Hmac(string secret, string? kid = null, string alg = SecurityAlgorithms.HmacSha256) =>
        new(new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(secret)) { KeyId = kid }, alg);

    [Fact]
    public async Task A_token_signed_with_another_secret_is_refused_and_every_valid_one_still_passes()
    {
        const string second = "a-second-secret-long-enough-for-hmac-sha-512-which-needs-64-bytes!!";
        var validator = Validator(o =>
        {
            o.AddHmacSecret(Tokens.Secret);
            o.AddHmacSecret(second);
        });
        // Either configured secret verifies (the shortcut tries every candidate key, as IdentityModel does).
        Assert.Equal("a", (await validator.ValidateAsync(Tokens.Create(sub: "a", credentials: Hmac(Tokens.Secret)))).Subject);
        Assert.Equal("b", (await validator.ValidateAsync(Tokens.Create(sub: "b", credentials: Hmac(second)))).Subject);
        Assert.Equal("c", (await validator.ValidateAsync(Tokens.Create(sub: "c", credentials: Hmac(second, alg: SecurityAlgorithms.HmacSha512)))).Subject);
        // Neither does: refused as token_invalid, whatever else the token says (expired, another audience).
        const string forgedSecret = "not-the-secret-but-long-enough-for-hmac-256";
        Assert.Equal(AuthErrorCodes.TokenInvalid, (await validator.ValidateAsync(Tokens.Create(credentials: Hmac(forgedSecret)))).ErrorCode);
        Assert.Equal(AuthErrorCodes.TokenInvalid, (await validator.ValidateAsync(Tokens.Create(credentials: Hmac(forgedSecret), audience: "other"))).ErrorCode);
        // A valid signature with a wrong audience is still the full validation's to refuse.
        Assert.Equal(AuthErrorCodes.TokenInvalid, (await validator.ValidateAsync(Tokens.Create(credentials: Hmac(Tokens.Secret), audience: "other"))).ErrorCode);
        // Every one of these was a full verification (the shortcut is one too): nothing was served from the cache.
        Assert.Equal(6, validator.Verifications);
    }

    [Fact]
    public async Task A_kid_naming_a_configured_key_that_does_not_verify_is_refused_and_the_right_key_passes()
    {
        var validator = Validator(o =>
        {
            o.SigningKeys.Add(new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(Tokens.Secret)) { KeyId = "k1" });
        });
        Assert.True((await validator.ValidateAsync(Tokens.Create(credentials: Hmac(Tokens.Secret, "k1")))).IsValid);
        Assert.Equal(AuthErrorCodes.TokenInvalid, (await validator.ValidateAsync(Tokens.Create(credentials: Hmac("a-different-secret-long-enough-for-hs256", "k1")))).ErrorCode);
        // A kid no key has: not the shortcut's to judge (rotation may bring it); refused by the full validation.
        Assert.Equal(AuthErrorCodes.TokenInvalid, (await validator.ValidateAsync(Tokens.Create(credentials: Hmac(Tokens.Secret, "k9")))).ErrorCode);
    }

    [Theory]
    [InlineData("not.a.jwt")]
    [InlineData("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")]
    [InlineData("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.%%%")]
    public async Task Malformed_and_unsigned_tokens_are_refused_as_before(string token)
    {
        Assert.Equal(AuthErrorCodes.TokenInvalid, (await Validator().ValidateAsync(token)).ErrorCode);
    }
}
