using System.Collections;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Primitives;

namespace Tessera.EngineIO.Internal;

/// <summary>
/// A read-only map over an exact-size array: a handshake has a handful of headers and query parameters, and a
/// linear scan over them costs less memory per idle session than a hash table.
/// </summary>
internal sealed class CompactDictionary : IReadOnlyDictionary<string, StringValues>
{
    private readonly KeyValuePair<string, StringValues>[] _items;
    private readonly StringComparison _comparison;

    public CompactDictionary(IEnumerable<KeyValuePair<string, StringValues>> source, int count, StringComparison comparison)
    {
        _items = new KeyValuePair<string, StringValues>[count];
        var i = 0;
        foreach (var item in source)
        {
            if (i == _items.Length)
            {
                Array.Resize(ref _items, i + 1);
            }
            _items[i++] = item;
        }
        if (i < _items.Length)
        {
            Array.Resize(ref _items, i);
        }
        _comparison = comparison;
    }

    public int Count => _items.Length;

    public StringValues this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException(key);

    public IEnumerable<string> Keys => _items.Select(i => i.Key);

    public IEnumerable<StringValues> Values => _items.Select(i => i.Value);

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out StringValues value)
    {
        foreach (var item in _items)
        {
            if (string.Equals(item.Key, key, _comparison))
            {
                value = item.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    public IEnumerator<KeyValuePair<string, StringValues>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, StringValues>>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
