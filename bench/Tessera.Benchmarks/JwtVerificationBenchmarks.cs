using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Tessera.Auth;

namespace Tessera.Benchmarks;

/// <summary>µs per access-token verification, full (first sight) and cached (a token seen again).</summary>
[MemoryDiagnoser]
public class JwtVerificationBenchmarks
{
    private const string Secret = "benchmark-secret-that-is-long-enough-for-hs256";
    private readonly RSA _rsa = RSA.Create(2048);
    private readonly ECDsa _ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private AccessTokenValidator _validator = null!;
    private AccessTokenValidator _uncached = null!;
    private string _hs256 = null!;
    private string _rs256 = null!;
    private string _es256 = null!;

    [GlobalSetup]
    public void Setup()
    {
        _validator = Create(cacheSize: 10_000);
        _uncached = Create(cacheSize: 0);
        _hs256 = Token(new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(Secret)), SecurityAlgorithms.HmacSha256));
        _rs256 = Token(new SigningCredentials(new RsaSecurityKey(_rsa) { KeyId = "rsa" }, SecurityAlgorithms.RsaSha256));
        _es256 = Token(new SigningCredentials(new ECDsaSecurityKey(_ecdsa) { KeyId = "ec" }, SecurityAlgorithms.EcdsaSha256));
    }

    private AccessTokenValidator Create(int cacheSize)
    {
        var options = new JwtAuthenticationOptions { Issuer = "tessera", Audience = "tessera", CacheSize = cacheSize };
        options.AddHmacSecret(Secret);
        options.SigningKeys.Add(new RsaSecurityKey(_rsa.ExportParameters(false)) { KeyId = "rsa" });
        options.SigningKeys.Add(new ECDsaSecurityKey(ECDsa.Create(_ecdsa.ExportParameters(false))) { KeyId = "ec" });
        return new AccessTokenValidator(Options.Create(options));
    }

    private static string Token(SigningCredentials credentials) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Claims = new Dictionary<string, object> { ["sub"] = "42", ["name"] = "Ada", ["sid"] = "s1", ["jti"] = "j1" },
        Issuer = "tessera",
        Audience = "tessera",
        Expires = DateTime.UtcNow.AddHours(1),
        SigningCredentials = credentials,
        TokenType = "at+jwt",
    });

    [Benchmark]
    public async Task<bool> HS256_full() => (await _uncached.ValidateAsync(_hs256)).IsValid;

    [Benchmark]
    public async Task<bool> RS256_full() => (await _uncached.ValidateAsync(_rs256)).IsValid;

    [Benchmark]
    public async Task<bool> ES256_full() => (await _uncached.ValidateAsync(_es256)).IsValid;

    [Benchmark]
    public async Task<bool> Seen_again_cached() => (await _validator.ValidateAsync(_rs256)).IsValid;
}
