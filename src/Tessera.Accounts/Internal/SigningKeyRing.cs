using System.Security.Cryptography;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

using Tessera.Auth;

namespace Tessera.Accounts.Internal;

/// <summary>One key of the ring: what signs (private) and what is published (public).</summary>
internal sealed record RingKey(string KeyId, string Algorithm, AsymmetricSecurityKey Key, DateTimeOffset ActivatesAt, DateTimeOffset RetiresAt, long Generation);

/// <summary>
/// The keys access tokens are signed and verified with (docs/tokens.md, "Signing keys"). HS256: the one secret. ES256 /
/// RS256: key pairs from PEM files, or generated and kept in the account store, where every node finds them:
/// <list type="bullet">
/// <item>the key that signs is the one most recently activated (<see cref="StoredSigningKey.ActivatesAt"/> ≤ now), so all
/// nodes agree without talking to each other;</item>
/// <item>the next key is added <see cref="AccountOptions.KeyPublicationLead"/> before its predecessor retires, and activates
/// only then: it is published (and loaded by every node, which re-read the store every lead/4, at most every minute) before
/// it signs;</item>
/// <item>a retired key stays published until the last token it signed has expired (its successor's activation plus the
/// access token lifetime and the clock skew), then is deleted;</item>
/// <item>two nodes rotating at once add the same generation: the store keeps one, and the other node reloads.</item>
/// </list>
/// Private keys are stored protected by a Data Protection provider of this ring's own, whose key ring lives in the same
/// store (<see cref="StoreXmlRepository"/>), not in the application's Data Protection configuration.
/// </summary>
internal sealed partial class SigningKeyRing : ISigningKeySource
{
    private const string Purpose = "Tessera.Accounts.SigningKeys.v1";
    private static readonly TimeSpan MinRefreshInterval = TimeSpan.FromSeconds(1);

    private readonly AccountOptions _options;
    private readonly IAccountStore _store;
    // Resolved when needed: JwtAuthenticationOptions are configured with this ring, so taking them here would be a cycle.
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly Dictionary<string, AsymmetricSecurityKey> _decrypted = new(StringComparer.Ordinal);
    private IDataProtector? _protector;
    private volatile IReadOnlyList<RingKey> _keys = [];
    private volatile IReadOnlyList<SecurityKey> _verification = [];
    private long _lastRefresh = long.MinValue;

    public SigningKeyRing(IOptions<AccountOptions> options, IAccountStore store, IServiceProvider services, ILogger<SigningKeyRing> logger, TimeProvider? time = null)
    {
        _options = options.Value;
        _store = store;
        _services = services;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        Algorithm = _options.SigningAlgorithm;
    }

    /// <summary><c>HS256</c>, <c>ES256</c> or <c>RS256</c>.</summary>
    public string Algorithm { get; }

    /// <summary>Whether the keys are key pairs whose public halves are published (JWKS).</summary>
    public bool IsAsymmetric => Algorithm != "HS256";

    /// <summary>Generated and kept in the store (not from configuration or files).</summary>
    public bool IsStored => IsAsymmetric && _options.SigningKeyFiles.Count == 0;

    /// <summary>Every key published now: the signing one, the next one, retired ones still verifying.</summary>
    public IReadOnlyList<RingKey> Published => _keys;

    public IReadOnlyList<SecurityKey> Keys => _verification;

    /// <summary>The HS256 secret (HS256 only).</summary>
    public SymmetricSecurityKey? Secret { get; private set; }

    /// <summary>How often the store is re-read: a quarter of the publication lead, at most a minute.</summary>
    public TimeSpan MaintenanceInterval =>
        TimeSpan.FromTicks(Math.Clamp(_options.KeyPublicationLead.Ticks / 4, TimeSpan.FromMilliseconds(100).Ticks, TimeSpan.FromMinutes(1).Ticks));

    /// <summary>The credentials the next token is signed with.</summary>
    public SigningCredentials Current()
    {
        if (!IsAsymmetric)
        {
            return new SigningCredentials(Secret ?? throw NotLoaded(), SecurityAlgorithms.HmacSha256);
        }
        var now = _time.GetUtcNow();
        RingKey? active = null;
        RingKey? earliest = null;
        foreach (var key in _keys)
        {
            if (key.ActivatesAt <= now && (active is null || key.ActivatesAt > active.ActivatesAt))
            {
                active = key;
            }
            if (earliest is null || key.ActivatesAt < earliest.ActivatesAt)
            {
                earliest = key;
            }
        }
        // The most recently activated; with none active yet (this node's clock behind the one that made them), the earliest.
        var current = active ?? earliest;
        return current is null
            ? throw NotLoaded()
            : new SigningCredentials(current.Key, current.Algorithm == "ES256" ? SecurityAlgorithms.EcdsaSha256 : SecurityAlgorithms.RsaSha256);
    }

    private static InvalidOperationException NotLoaded() =>
        new("The signing keys are not loaded yet: the account store initialises them when the host starts.");

    /// <summary>Loads (and on first start creates) the keys: before the server takes requests.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        if (!IsAsymmetric)
        {
            // A configured secret, or the generated one: in the data directory beside the SQLite file (nodes sharing it
            // agree), in the store itself for any other store (nodes on many machines share nothing else).
            Secret = new SymmetricSecurityKey(string.IsNullOrEmpty(_options.SigningKey) && _store is not SqliteAccountStore
                ? await StoredSecretAsync(cancellationToken).ConfigureAwait(false)
                : SigningKeyFile.LoadOrCreate(_options.DataDirectory, _options.SigningKey));
            _verification = [Secret];
            return;
        }
        if (!IsStored)
        {
            var keys = _options.SigningKeyFiles.Select((path, i) => PemSigningKey.Load(path, Algorithm, generation: i)).ToList();
            _keys = keys;
            _verification = keys.Select(k => (SecurityKey)k.Key).ToList();
            return;
        }
        await MaintainAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The generated HS256 secret kept in the store (protected as the key pairs are); the first node to start creates it.</summary>
    private async Task<byte[]> StoredSecretAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var all = await _store.ListSigningKeysAsync(cancellationToken).ConfigureAwait(false);
            if (all.FirstOrDefault(k => k.Algorithm == "HS256") is { } existing)
            {
                return Protector(retry: true, p => p.Unprotect(Convert.FromBase64String(existing.ProtectedPrivateKey)));
            }
            if (attempt > 0)
            {
                throw new InvalidOperationException("The account store kept no HS256 secret although one was added.");
            }
            var secret = RandomNumberGenerator.GetBytes(64);
            var now = _time.GetUtcNow();
            var entry = new StoredSigningKey(NextGeneration(all), "hs256", "HS256", Convert.ToBase64String(Protector(retry: false, p => p.Protect(secret))), now, now, DateTimeOffset.MaxValue);
            // Lost to another node starting at the same moment: theirs is read on the next pass.
            await _store.TryAddSigningKeyAsync(entry, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One more than any generation kept, whatever its algorithm (the generation is the store's key).</summary>
    private static long NextGeneration(IReadOnlyList<StoredSigningKey> all) => (all.Count > 0 ? all.Max(k => k.Generation) : 0) + 1;

    /// <inheritdoc/>
    public async ValueTask RefreshAsync(CancellationToken cancellationToken = default)
    {
        if (!IsStored)
        {
            return;
        }
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastRefresh);
        if (last != long.MinValue && _time.GetElapsedTime(last, now) < MinRefreshInterval)
        {
            return;
        }
        if (Interlocked.CompareExchange(ref _lastRefresh, now, last) != last)
        {
            return;
        }
        await LoadAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds the next key when due, deletes keys no token can need any more, and reloads.</summary>
    public async Task MaintainAsync(CancellationToken cancellationToken = default)
    {
        if (!IsStored)
        {
            return;
        }
        var now = _time.GetUtcNow();
        var all = await _store.ListSigningKeysAsync(cancellationToken).ConfigureAwait(false);
        // Keys of another algorithm (before a change of Auth:SigningAlgorithm) are neither used nor rotated.
        var stored = all.Where(k => k.Algorithm == Algorithm).ToList();
        var hold = _options.AccessTokenLifetime + _services.GetRequiredService<IOptions<JwtAuthenticationOptions>>().Value.ClockSkew;
        for (var i = 0; i + 1 < stored.Count; i++)
        {
            // Every token this key signed was signed before its successor activated; all of them have expired by now.
            var successor = stored[i + 1];
            if (successor.ActivatesAt <= now && successor.ActivatesAt + hold < now)
            {
                await _store.DeleteSigningKeyAsync(stored[i].KeyId, cancellationToken).ConfigureAwait(false);
                Log.KeyDeleted(_logger, stored[i].KeyId);
            }
        }
        var latest = stored.Count > 0 ? stored[^1] : null;
        if (latest is null || now >= latest.RetiresAt - _options.KeyPublicationLead)
        {
            // The first key signs at once (no token exists to be verified yet); each next one only after the lead.
            var activates = latest is null ? now : Max(latest.RetiresAt, now + _options.KeyPublicationLead);
            var key = Generate(NextGeneration(all), now, activates);
            if (await _store.TryAddSigningKeyAsync(key, cancellationToken).ConfigureAwait(false))
            {
                Log.KeyAdded(_logger, key.KeyId, key.Algorithm, key.ActivatesAt);
            }
        }
        await LoadAsync(cancellationToken).ConfigureAwait(false);
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var stored = (await _store.ListSigningKeysAsync(cancellationToken).ConfigureAwait(false)).Where(k => k.Algorithm == Algorithm).ToList();
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var keys = new List<RingKey>(stored.Count);
            foreach (var entry in stored)
            {
                if (!_decrypted.TryGetValue(entry.KeyId, out var key))
                {
                    key = Decrypt(entry);
                    _decrypted[entry.KeyId] = key;
                }
                keys.Add(new RingKey(entry.KeyId, entry.Algorithm, key, entry.ActivatesAt, entry.RetiresAt, entry.Generation));
            }
            foreach (var gone in _decrypted.Keys.Except(stored.Select(s => s.KeyId)).ToList())
            {
                _decrypted.Remove(gone);
            }
            _keys = keys;
            _verification = keys.Select(k => (SecurityKey)k.Key).ToList();
        }
        finally
        {
            _lock.Release();
        }
    }

    private StoredSigningKey Generate(long generation, DateTimeOffset now, DateTimeOffset activates)
    {
        byte[] pkcs8;
        AsymmetricSecurityKey key;
        if (Algorithm == "ES256")
        {
            var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            pkcs8 = ecdsa.ExportPkcs8PrivateKey();
            key = new ECDsaSecurityKey(ecdsa);
        }
        else
        {
            var rsa = RSA.Create(2048);
            pkcs8 = rsa.ExportPkcs8PrivateKey();
            key = new RsaSecurityKey(rsa);
        }
        var kid = PemSigningKey.Thumbprint(key);
        try
        {
            var protectedKey = Convert.ToBase64String(Protector(retry: false, p => p.Protect(pkcs8)));
            return new StoredSigningKey(generation, kid, Algorithm, protectedKey, now, activates, activates + _options.KeyRotationInterval);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    private AsymmetricSecurityKey Decrypt(StoredSigningKey entry)
    {
        var protectedBytes = Convert.FromBase64String(entry.ProtectedPrivateKey);
        var pkcs8 = Protector(retry: true, p => p.Unprotect(protectedBytes));
        try
        {
            var key = PemSigningKey.FromPkcs8(pkcs8, entry.Algorithm);
            key.KeyId = entry.KeyId;
            return key;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    /// <summary>
    /// Runs <paramref name="use"/> with the protector; with <paramref name="retry"/>, once more with the key ring read again if
    /// it fails: another node may have created the Data Protection key after this one loaded the ring (nodes starting together).
    /// </summary>
    private T Protector<T>(bool retry, Func<IDataProtector, T> use)
    {
        try
        {
            return use(Protector());
        }
        catch (CryptographicException) when (retry)
        {
            _protector = null;
            return use(Protector());
        }
    }

    private IDataProtector Protector()
    {
        if (_protector is { } protector)
        {
            return protector;
        }
        // A provider of its own: the key ring in the account store, whatever the application configured for itself.
        var services = new ServiceCollection();
        var builder = services.AddDataProtection()
            .SetApplicationName("Tessera.Accounts")
            .AddKeyManagementOptions(o => o.XmlRepository = new StoreXmlRepository(_store));
        _options.ConfigureDataProtection?.Invoke(builder);
        protector = services.BuildServiceProvider().GetRequiredService<IDataProtectionProvider>().CreateProtector(Purpose);
        _protector = protector;
        return protector;
    }

    private static partial class Log
    {
        [LoggerMessage(321, LogLevel.Information, "Signing key {KeyId} ({Algorithm}) published; it signs from {ActivatesAt:O}.")]
        public static partial void KeyAdded(ILogger logger, string keyId, string algorithm, DateTimeOffset activatesAt);

        [LoggerMessage(322, LogLevel.Information, "Signing key {KeyId} retired and unpublished: every token it signed has expired.")]
        public static partial void KeyDeleted(ILogger logger, string keyId);

        [LoggerMessage(323, LogLevel.Warning, "Maintaining the signing keys failed; retrying.")]
        public static partial void MaintenanceFailed(ILogger logger, Exception exception);
    }

    /// <summary>Rotation on every node: the store is re-read every <see cref="MaintenanceInterval"/>.</summary>
    internal sealed class Maintenance(SigningKeyRing ring, ILogger<SigningKeyRing> logger) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            if (!ring.IsStored)
            {
                return;
            }
            using var timer = new PeriodicTimer(ring.MaintenanceInterval, ring._time);
            try
            {
                while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
                {
                    try
                    {
                        await ring.MaintainAsync(stoppingToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        // The store is away: the keys loaded stay in use; rotation resumes when it is back.
                        Log.MaintenanceFailed(logger, ex);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}

/// <summary>Data Protection's key ring as rows of the account store.</summary>
internal sealed class StoreXmlRepository(IAccountStore store) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements() => store.GetDataProtectionKeys().Select(x => XElement.Parse(x)).ToList();

    public void StoreElement(XElement element, string friendlyName) =>
        store.StoreDataProtectionKey(friendlyName, element.ToString(SaveOptions.DisableFormatting));
}

/// <summary>Key pairs from PEM text, and their <c>kid</c>s.</summary>
internal static class PemSigningKey
{
    /// <summary>RFC 7638 thumbprint of the public key, base64url: the same key always gets the same kid.</summary>
    public static string Thumbprint(AsymmetricSecurityKey key) =>
        Base64UrlEncoder.Encode(JsonWebKeyConverter.ConvertFromSecurityKey(key).ComputeJwkThumbprint());

    public static AsymmetricSecurityKey FromPkcs8(ReadOnlySpan<byte> pkcs8, string algorithm)
    {
        if (algorithm == "ES256")
        {
            var ecdsa = ECDsa.Create();
            ecdsa.ImportPkcs8PrivateKey(pkcs8, out _);
            return new ECDsaSecurityKey(ecdsa);
        }
        var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(pkcs8, out _);
        return new RsaSecurityKey(rsa);
    }

    private static bool HasPrivateKey(AsymmetricSecurityKey key)
    {
        try
        {
            _ = key is ECDsaSecurityKey ec ? ec.ECDsa.ExportParameters(true).D : ((RsaSecurityKey)key).Rsa.ExportParameters(true).D;
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    public static RingKey Load(string path, string algorithm, int generation)
    {
        string pem;
        try
        {
            pem = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Tessera:Auth:SigningKeyFiles: cannot read {path}: {ex.Message}", ex);
        }
        AsymmetricSecurityKey key;
        try
        {
            if (algorithm == "ES256")
            {
                var ecdsa = ECDsa.Create();
                ecdsa.ImportFromPem(pem);
                if (ecdsa.KeySize != 256 || ecdsa.ExportParameters(false).Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
                {
                    throw new InvalidOperationException($"Tessera:Auth:SigningKeyFiles: {path} is not a P-256 key, which ES256 needs.");
                }
                key = new ECDsaSecurityKey(ecdsa);
            }
            else
            {
                var rsa = RSA.Create();
                rsa.ImportFromPem(pem);
                if (rsa.KeySize < 2048)
                {
                    throw new InvalidOperationException($"Tessera:Auth:SigningKeyFiles: {path} is a {rsa.KeySize}-bit RSA key; RS256 needs 2048 bits or more.");
                }
                key = new RsaSecurityKey(rsa);
            }
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            throw new InvalidOperationException($"Tessera:Auth:SigningKeyFiles: {path} holds no {(algorithm == "ES256" ? "EC" : "RSA")} private key in PEM form ({ex.Message}).", ex);
        }
        if (!HasPrivateKey(key))
        {
            throw new InvalidOperationException($"Tessera:Auth:SigningKeyFiles: {path} holds a public key only; a signing key file needs the private key.");
        }
        key.KeyId = Thumbprint(key);
        // Files never rotate by themselves: each is active from the start, the first one (the most recently "activated") signing.
        return new RingKey(key.KeyId, algorithm, key, DateTimeOffset.MinValue.AddYears(1000 - generation), DateTimeOffset.MaxValue, -generation);
    }
}
