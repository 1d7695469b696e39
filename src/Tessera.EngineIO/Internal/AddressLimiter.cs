using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Tessera.EngineIO.Internal;

/// <summary>
/// Sessions open at once per client address (<see cref="EngineIOOptions.MaxConnectionsPerAddress"/>). IPv4
/// addresses count one by one (an IPv4-mapped IPv6 address as its IPv4 address); IPv6 addresses per /64, the
/// smallest block a single host or home network is given, so one host cannot step around the limit by changing the
/// low bits of its address. Only addresses with open sessions hold an entry.
/// </summary>
internal sealed class AddressLimiter(int limit)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<UInt128, int> _counts = [];

    public int Limit { get; } = limit;

    /// <summary>
    /// The group an address counts in: the whole IPv4-mapped address for IPv4, the first 64 bits for IPv6 (the low
    /// half zero, which no IPv4-mapped address has, so the two never meet). Null when there is no IP address (a Unix
    /// socket, a test server): such connections are not counted.
    /// </summary>
    public static UInt128? Key(IPAddress? address)
    {
        if (address is null)
        {
            return null;
        }
        Span<byte> bytes = stackalloc byte[16];
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        switch (address.AddressFamily)
        {
            case AddressFamily.InterNetwork:
                bytes[10] = 0xFF;
                bytes[11] = 0xFF;
                address.TryWriteBytes(bytes[12..], out _);
                break;
            case AddressFamily.InterNetworkV6:
                address.TryWriteBytes(bytes, out _);
                bytes[8..].Clear();
                break;
            default:
                return null;
        }
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    /// <summary>Takes a slot for a new session from <paramref name="address"/>; false when its group is full.</summary>
    public bool TryAcquire(IPAddress? address)
    {
        if (Key(address) is not { } key)
        {
            return true;
        }
        lock (_lock)
        {
            _counts.TryGetValue(key, out var count);
            if (count >= Limit)
            {
                return false;
            }
            _counts[key] = count + 1;
            return true;
        }
    }

    /// <summary>Gives back the slot of a session from <paramref name="address"/> that has closed.</summary>
    public void Release(IPAddress? address)
    {
        if (Key(address) is not { } key)
        {
            return;
        }
        lock (_lock)
        {
            if (!_counts.TryGetValue(key, out var count))
            {
                return;
            }
            if (count <= 1)
            {
                _counts.Remove(key);
            }
            else
            {
                _counts[key] = count - 1;
            }
        }
    }

    /// <summary>Sessions open from <paramref name="address"/>'s group (tests and diagnostics).</summary>
    public int Count(IPAddress? address)
    {
        if (Key(address) is not { } key)
        {
            return 0;
        }
        lock (_lock)
        {
            return _counts.GetValueOrDefault(key);
        }
    }
}
