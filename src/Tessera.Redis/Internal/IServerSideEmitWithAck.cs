using Tessera.SocketIO;

namespace Tessera.Redis.Internal;

/// <summary>An adapter that can wait for other nodes' answers to a server-side event (both Redis adapters).</summary>
internal interface IServerSideEmitWithAck
{
    /// <summary>Sends <c>["name", …args]</c> to the other nodes and gathers one answer from each within <paramref name="timeout"/>.</summary>
    Task<IReadOnlyList<SocketIOArgs>> ServerSideEmitWithAckAsync(string eventName, System.Text.Json.JsonElement[] args, TimeSpan timeout);

    /// <summary>How long <see cref="ServerSideEmitWithAckAsync"/> waits when the caller gives no timeout.</summary>
    TimeSpan DefaultTimeout { get; }
}
