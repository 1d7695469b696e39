using System.Globalization;
using Microsoft.AspNetCore.Identity;
using Tessera.Accounts;
using Tessera.Accounts.Internal;

namespace Tessera.Server;

/// <summary>
/// tessera users add|list|disable|enable, tessera token issue — the same binary and data directory as the
/// server, so a running server sees the changes (a disabled user's sockets are disconnected within a second).
/// </summary>
public static class Cli
{
    public static bool IsCommand(string[] args) => args.Length > 0 && args[0] is "users" or "token" or "help" or "--help";

    private const string Usage = """
        usage:
          tessera users add <username> --password <password>
          tessera users list
          tessera users disable <username>
          tessera users enable <username>
          tessera token issue --sub <user id> [--name <name>] [--ttl 00:15:00]
        Configuration (data directory, signing key …) comes from appsettings.json, TESSERA__… variables or
        --Tessera:DataDirectory=… arguments, exactly as for the server.
        """;

    public static async Task<int> RunAsync(string[] args, IConfiguration configuration)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var socketIO = services.AddSocketIO().AddAccounts(o => ServerSetup.BindAccounts(o, configuration)).AddConfiguredStore(configuration);
        if (ServerSetup.RedisConfiguration(configuration) is { } redis)
        {
            // In a cluster the nodes learn of revocations through Redis (they read the store's log only to catch up).
            socketIO.AddRedisAdapter(o => o.Configuration = redis);
        }
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<IAccountStore>();
        try
        {
            await store.InitializeAsync();
            await provider.GetRequiredService<Tessera.Accounts.Internal.SigningKeyRing>().InitializeAsync();
            return (args.ElementAtOrDefault(0), args.ElementAtOrDefault(1)) switch
            {
                ("users", "add") => await AddUserAsync(args, provider, store),
                ("users", "list") => await ListUsersAsync(store),
                ("users", "disable") => await SetDisabledAsync(args, provider, store, true),
                ("users", "enable") => await SetDisabledAsync(args, provider, store, false),
                ("token", "issue") => await IssueTokenAsync(args, provider, store),
                _ => Fail(Usage),
            };
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or IOException or System.Data.Common.DbException)
        {
            return Fail(ex.Message);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 2;
    }

    private static string? Option(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    private static async Task<int> AddUserAsync(string[] args, IServiceProvider provider, IAccountStore store)
    {
        var username = args.ElementAtOrDefault(2);
        var password = Option(args, "--password") ?? Environment.GetEnvironmentVariable("TESSERA_PASSWORD");
        if (string.IsNullOrEmpty(username) || username.StartsWith("--", StringComparison.Ordinal) || string.IsNullOrEmpty(password))
        {
            return Fail("usage: tessera users add <username> --password <password>   (or TESSERA_PASSWORD in the environment)");
        }
        var minimum = provider.GetRequiredService<TokenService>().Options.MinimumPasswordLength;
        if (password.Length < minimum)
        {
            return Fail($"The password must have at least {minimum} characters.");
        }
        var hash = provider.GetRequiredService<IPasswordHasher<UserAccount>>().HashPassword(null!, password);
        var user = await store.CreateUserAsync(username, hash);
        if (user is null)
        {
            return Fail($"The username '{username}' is taken.");
        }
        Console.WriteLine($"{user.Id} {user.Username}");
        return 0;
    }

    private static async Task<int> ListUsersAsync(IAccountStore store)
    {
        Console.WriteLine($"{"id",-32}  {"username",-32}  {"state",-8}  created (UTC)");
        foreach (var user in await store.ListUsersAsync())
        {
            Console.WriteLine($"{user.Id,-32}  {user.Username,-32}  {(user.Disabled ? "disabled" : "active"),-8}  {user.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)}");
        }
        return 0;
    }

    private static async Task<int> SetDisabledAsync(string[] args, IServiceProvider provider, IAccountStore store, bool disabled)
    {
        var username = args.ElementAtOrDefault(2);
        var user = username is null ? null : await store.FindUserByNameAsync(username);
        if (user is null)
        {
            return Fail($"No user named '{username}'.");
        }
        await store.SetDisabledAsync(user.Id, disabled);
        Console.WriteLine(disabled ? $"{user.Username} disabled; their sessions are revoked." : $"{user.Username} enabled.");
        if (disabled && provider.GetService<StackExchange.Redis.IConnectionMultiplexer>() is { } redis)
        {
            if (redis.IsConnected)
            {
                // What a node's logout does: every node disconnects the user's sockets at once.
                await provider.GetRequiredService<Tessera.Accounts.Internal.RevocationBus>().RevokeUserAsync(user.Id);
            }
            else
            {
                Console.Error.WriteLine("Redis is unreachable: connected nodes disconnect the user's sockets when they next read the revocation log (Accounts:RevocationCatchUpInterval).");
            }
        }
        return 0;
    }

    private static async Task<int> IssueTokenAsync(string[] args, IServiceProvider provider, IAccountStore store)
    {
        var sub = Option(args, "--sub");
        var user = sub is null ? null : await store.FindUserByIdAsync(sub);
        if (user is null)
        {
            return Fail("usage: tessera token issue --sub <user id> [--name <name>] [--ttl 00:15:00]   (the id must exist: see users list)");
        }
        var ttl = Option(args, "--ttl") is { } text ? TimeSpan.Parse(text, CultureInfo.InvariantCulture) : (TimeSpan?)null;
        var tokens = provider.GetRequiredService<TokenService>();
        if (ttl > tokens.Options.AccessTokenLifetime && provider.GetRequiredService<Tessera.Accounts.Internal.SigningKeyRing>().IsStored)
        {
            // A generated key is unpublished once the tokens it signs under the configured lifetime have expired.
            return Fail($"--ttl {ttl} is longer than Tessera:Auth:AccessTokenLifetime ({tokens.Options.AccessTokenLifetime}): with rotating {tokens.Options.SigningAlgorithm} keys a token cannot outlive its key's publication.");
        }
        // A session of its own, so the token can be revoked like any login's.
        var sessionId = TokenService.NewSessionId();
        await store.CreateSessionAsync(sessionId, user.Id, TokenService.Hash(TokenService.NewRefreshToken()), tokens.Now + (ttl ?? tokens.Options.AccessTokenLifetime));
        var (token, _, _) = tokens.IssueAccessToken(user.Id, Option(args, "--name") ?? user.Username, sessionId, ttl);
        Console.WriteLine(token);
        return 0;
    }
}
