using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;
using Tessera.SocketIO;

namespace Tessera.Auth;

/// <summary>
/// Authorization per namespace (checked when a socket connects) and per event (checked before the event's
/// handlers; a refused event never runs them and its ack receives <c>{"error":{"code":"forbidden"}}</c>).
/// </summary>
public static class SocketAuthorization
{
    internal delegate ValueTask<bool> Rule(ClaimsPrincipal user, IServiceProvider? services);

    internal sealed class Rules
    {
        public List<Rule> Connect { get; } = [];
        public Dictionary<string, List<Rule>> Events { get; } = new(StringComparer.Ordinal);
    }

    private static SocketIONamespace Add(SocketIONamespace ns, string? eventName, Rule rule)
    {
        ArgumentNullException.ThrowIfNull(ns);
        // Set when the namespace was created, by the authentication layer that enforces the rules: without it a
        // rule would be stored and never checked.
        var rules = ns.Features.Get<Rules>()
            ?? throw new InvalidOperationException("Socket authorization rules need authentication: call services.AddSocketIO().AddJwtAuthentication(…).");
        lock (rules)
        {
            if (eventName is null)
            {
                rules.Connect.Add(rule);
            }
            else
            {
                if (!rules.Events.TryGetValue(eventName, out var list))
                {
                    rules.Events[eventName] = list = [];
                }
                list.Add(rule);
            }
        }
        return ns;
    }

    /// <summary>Sockets may join the namespace only if the ASP.NET Core policy succeeds for their user.</summary>
    public static SocketIONamespace RequireAuthorization(this SocketIONamespace ns, string policy) => Add(ns, null, PolicyRule(policy));

    /// <summary>The event runs only if the ASP.NET Core policy succeeds for the socket's user.</summary>
    public static SocketIONamespace RequireAuthorization(this SocketIONamespace ns, string eventName, string policy) =>
        Add(ns, eventName ?? throw new ArgumentNullException(nameof(eventName)), PolicyRule(policy));

    /// <summary>The event runs only if the user has the claim (with one of the values, if given).</summary>
    public static SocketIONamespace RequireClaim(this SocketIONamespace ns, string eventName, string claimType, params string[] allowedValues) =>
        Add(ns, eventName, (user, _) => ValueTask.FromResult(
            allowedValues.Length == 0 ? user.HasClaim(c => c.Type == claimType) : allowedValues.Any(v => user.HasClaim(claimType, v))));

    /// <summary>The event runs only if the user is in one of the roles (claim "role").</summary>
    public static SocketIONamespace RequireRole(this SocketIONamespace ns, string eventName, params string[] roles) =>
        Add(ns, eventName, (user, _) => ValueTask.FromResult(roles.Any(user.IsInRole)));

    private static Rule PolicyRule(string policy)
    {
        ArgumentException.ThrowIfNullOrEmpty(policy);
        return async (user, services) =>
        {
            var authorization = services?.GetService<IAuthorizationService>()
                ?? throw new InvalidOperationException("Policy-based socket authorization needs services.AddAuthorization().");
            return (await authorization.AuthorizeAsync(user, policy).ConfigureAwait(false)).Succeeded;
        };
    }

    /// <summary>Whether the user passes the namespace's connect rules (eventName null) or the event's rules.</summary>
    internal static async ValueTask<bool> AllowsAsync(SocketIONamespace ns, string? eventName, ClaimsPrincipal user, IServiceProvider? services)
    {
        if (ns.Features.Get<Rules>() is not { } rules)
        {
            return true;
        }
        Rule[] snapshot;
        lock (rules)
        {
            List<Rule>? list = eventName is null ? rules.Connect : rules.Events.GetValueOrDefault(eventName);
            if (list is null || list.Count == 0)
            {
                return true;
            }
            snapshot = [.. list];
        }
        foreach (var rule in snapshot)
        {
            if (!await rule(user, services).ConfigureAwait(false))
            {
                return false;
            }
        }
        return true;
    }
}
