using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Tessera.Auth;
using Tessera.Accounts;
using Tessera.Accounts.Internal;
using Tessera.SocketIO;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Tessera's account server to <c>services.AddSocketIO().AddJwtAuthentication(…)</c>.</summary>
public static class AccountServiceCollectionExtensions
{
    /// <summary>
    /// Accounts, token issuing and revocation on the SQLite store in <see cref="AccountOptions.DataDirectory"/>,
    /// wired into JWT authentication (issuer, audience, signing key, revocation): the handshake accepts the tokens
    /// this server issues. Map the endpoints with <c>app.MapTesseraAuth()</c>. Adds JWT authentication if the
    /// builder has none yet.
    /// </summary>
    public static ISocketIOBuilder AddAccounts(this ISocketIOBuilder builder, Action<AccountOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        builder.AddJwtAuthentication(_ => { });
        var options = services.AddOptions<AccountOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AccountOptions>, AccountOptionsValidation>());
        services.AddMetrics();
        services.TryAddSingleton<AccountsMetrics>();
        services.TryAddSingleton<IAccountStore>(sp => new SqliteAccountStore(sp.GetRequiredService<IOptions<AccountOptions>>().Value.DatabasePath));
        services.TryAddSingleton<SigningKeyRing>();
        // Its own options, not the app's PasswordHasherOptions: Identity's default (100,000) is below OWASP's floor.
        // Hashes of fewer iterations verify as SuccessRehashNeeded and are upgraded at the next login.
        services.TryAddSingleton<IPasswordHasher<UserAccount>>(_ => new PasswordHasher<UserAccount>(
            Microsoft.Extensions.Options.Options.Create(new PasswordHasherOptions { IterationCount = PasswordIterations })));
        services.TryAddSingleton<TokenService>();
        services.TryAddSingleton<IAccountRateCounter>(_ => new LocalRateCounter());
        services.TryAddSingleton<AuthRateLimits>();
        services.TryAddSingleton<StoreRevocation>();
        services.TryAddSingleton<IAccessTokenRevocation>(sp => sp.GetRequiredService<StoreRevocation>());
        services.TryAddSingleton<RevocationBus>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<JwtAuthenticationOptions>, AccountsJwtConfiguration>());
        services.AddHostedService<AccountStoreInitializer>();
        services.AddHostedService<RevocationFeed>();
        services.AddHostedService<SigningKeyRing.Maintenance>();
        return builder;
    }

    /// <summary>PBKDF2-HMAC-SHA512 iterations of new password hashes (OWASP's recommendation for that PRF).</summary>
    internal const int PasswordIterations = 210_000;

    /// <summary>Tokens this server issues are the ones the handshake accepts.</summary>
    private sealed class AccountsJwtConfiguration(IOptions<AccountOptions> accounts, SigningKeyRing keys) : IConfigureOptions<JwtAuthenticationOptions>
    {
        public void Configure(JwtAuthenticationOptions options)
        {
            options.Issuer ??= accounts.Value.Issuer;
            options.Audience ??= accounts.Value.Audience;
            // The ring's keys as they are at each verification: generated keys rotate while the server runs.
            options.SigningKeySources.Add(keys);
        }
    }

    /// <summary>Creates or migrates the schema, then loads (or creates) the signing keys, before the server takes requests.</summary>
    private sealed class AccountStoreInitializer(IAccountStore store, SigningKeyRing keys) : IHostedLifecycleService
    {
        public async Task StartingAsync(CancellationToken cancellationToken)
        {
            await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
            await keys.InitializeAsync(cancellationToken).ConfigureAwait(false);
        }

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

internal sealed class AccountOptionsValidation : IValidateOptions<AccountOptions>
{
    public ValidateOptionsResult Validate(string? name, AccountOptions options) =>
        options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}
