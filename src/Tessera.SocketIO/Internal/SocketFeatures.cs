using System.Collections;
using Microsoft.AspNetCore.Http.Features;

namespace Tessera.SocketIO.Internal;

/// <summary>
/// A socket's <see cref="SocketIOSocket.Features"/>: the few typed features other layers attach (authentication's
/// state, a rate limit), in one small array replaced on every change. ASP.NET Core's FeatureCollection keeps a
/// Dictionary (216 B for one feature, per connection); this is 72 B. Replacing the array also lets a timer read the
/// features while the socket's own thread sets one (auth's expiry against an in-band refresh) without a lock.
/// </summary>
internal sealed class SocketFeatures : IFeatureCollection
{
    private KeyValuePair<Type, object>[] _items = [];
    private int _revision;

    public bool IsReadOnly => false;

    public int Revision => Volatile.Read(ref _revision);

    public object? this[Type key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            foreach (var item in Volatile.Read(ref _items))
            {
                if (item.Key == key)
                {
                    return item.Value;
                }
            }
            return null;
        }
        set
        {
            ArgumentNullException.ThrowIfNull(key);
            while (true)
            {
                var items = Volatile.Read(ref _items);
                var replaced = With(items, key, value);
                if (ReferenceEquals(replaced, items))
                {
                    return;
                }
                if (ReferenceEquals(Interlocked.CompareExchange(ref _items, replaced, items), items))
                {
                    Interlocked.Increment(ref _revision);
                    return;
                }
            }
        }
    }

    public TFeature? Get<TFeature>()
    {
        var feature = this[typeof(TFeature)];
        if (feature is null && typeof(TFeature).IsValueType && Nullable.GetUnderlyingType(typeof(TFeature)) is null)
        {
            throw new InvalidOperationException($"{typeof(TFeature).FullName} does not exist in the feature collection, and a value type cannot be null.");
        }
        return (TFeature?)feature;
    }

    public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

    public IEnumerator<KeyValuePair<Type, object>> GetEnumerator() => ((IEnumerable<KeyValuePair<Type, object>>)Volatile.Read(ref _items)).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    // The array with key set to value (null: removed); the same array when nothing changes.
    private static KeyValuePair<Type, object>[] With(KeyValuePair<Type, object>[] items, Type key, object? value)
    {
        var index = -1;
        for (var i = 0; i < items.Length; i++)
        {
            if (items[i].Key == key)
            {
                index = i;
                break;
            }
        }
        if (value is null)
        {
            if (index < 0)
            {
                return items;
            }
            var shorter = new KeyValuePair<Type, object>[items.Length - 1];
            Array.Copy(items, shorter, index);
            Array.Copy(items, index + 1, shorter, index, items.Length - index - 1);
            return shorter;
        }
        var copy = new KeyValuePair<Type, object>[index < 0 ? items.Length + 1 : items.Length];
        Array.Copy(items, copy, items.Length);
        copy[index < 0 ? items.Length : index] = new(key, value);
        return copy;
    }
}
