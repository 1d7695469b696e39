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
