using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Tessera.Auth;
using Tessera.Auth.Accounts;

namespace Microsoft.Extensions.DependencyInjection;

public static class AccountServiceCollectionExtensions
{
    /// <summary>
    /// Accounts, token issuing and revocation on the SQLite store in <see cref="AccountOptions.DataDirectory"/>,
    /// wired into JWT authentication (issuer, audience, signing key, revocation). Call after
    /// <c>AddJwtAuthentication</c>; map the endpoints with <c>app.MapTesseraAuth()</c>.
    /// </summary>
    public static IServiceCollection AddTesseraAccounts(this IServiceCollection services, Action<AccountOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<AccountOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }
        services.TryAddSingleton<IAccountStore>(sp => new SqliteAccountStore(sp.GetRequiredService<IOptions<AccountOptions>>().Value.DatabasePath));
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<AccountOptions>>().Value;
            return new SigningKey(SigningKeyFile.LoadOrCreate(o.DataDirectory, o.SigningKey));
        });
        services.TryAddSingleton<IPasswordHasher<UserAccount>, PasswordHasher<UserAccount>>();
        services.TryAddSingleton<TokenService>();
        services.TryAddSingleton<AuthRateLimits>();
        services.TryAddSingleton<StoreRevocation>();
        services.TryAddSingleton<IAccessTokenRevocation>(sp => sp.GetRequiredService<StoreRevocation>());
        services.TryAddSingleton<IRevocationBus, LocalRevocationBus>();
        services.AddSingleton<IConfigureOptions<JwtAuthenticationOptions>, AccountsJwtConfiguration>();
        services.AddHostedService<AccountStoreInitializer>();
        services.AddHostedService<RevocationFeed>();
        return services;
    }

    /// <summary>Tokens this server issues are the ones the handshake accepts.</summary>
    private sealed class AccountsJwtConfiguration(IOptions<AccountOptions> accounts, SigningKey key) : IConfigureOptions<JwtAuthenticationOptions>
    {
        public void Configure(JwtAuthenticationOptions options)
        {
            options.Issuer ??= accounts.Value.Issuer;
            options.Audience ??= accounts.Value.Audience;
            options.SigningKeys.Add(key.SecurityKey);
        }
    }

    /// <summary>Creates or migrates the schema before the server takes requests.</summary>
    private sealed class AccountStoreInitializer(IAccountStore store) : IHostedLifecycleService
    {
        public Task StartingAsync(CancellationToken cancellationToken) => store.InitializeAsync(cancellationToken);

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
