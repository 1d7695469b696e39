using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Tessera.Accounts;
using Tessera.Accounts.PostgreSql;
using Tessera.Accounts.PostgreSql.Internal;
using Tessera.SocketIO;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Puts Tessera's accounts on PostgreSQL: <c>services.AddSocketIO().AddAccounts(…).AddPostgreSqlStore(…)</c>.</summary>
public static class PostgreSqlStoreExtensions
{
    /// <summary>
    /// The account store is the PostgreSQL database of <see cref="PostgreSqlStoreOptions.ConnectionString"/> instead of the
    /// SQLite file: every node given the same database shares users, sessions, refresh tokens, revocations and signing keys.
    /// The schema is created or migrated at start.
    /// </summary>
    public static ISocketIOBuilder AddPostgreSqlStore(this ISocketIOBuilder builder, Action<PostgreSqlStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var services = builder.Services;
        services.AddOptions<PostgreSqlStoreOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgreSqlStoreOptions>, PostgreSqlStoreOptionsValidation>());
        services.Replace(ServiceDescriptor.Singleton<IAccountStore>(sp =>
            new PostgreSqlAccountStore(sp.GetRequiredService<IOptions<PostgreSqlStoreOptions>>().Value.ConnectionString)));
        return builder;
    }

    private sealed class PostgreSqlStoreOptionsValidation : IValidateOptions<PostgreSqlStoreOptions>
    {
        public ValidateOptionsResult Validate(string? name, PostgreSqlStoreOptions options) =>
            options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }
}
