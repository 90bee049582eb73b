/// Index of the last element whose key is at most `value`, in a collection sorted by that key:
/// the lookup behind every "which range holds this address" question (modules, symbols, regions).
@inlinable
public func lastIndex<C: RandomAccessCollection, Key: Comparable>(in elements: C, atMost value: Key, key: (C.Element) -> Key)
    -> Int?
where C.Index == Int {
    var low = elements.startIndex
    var high = elements.endIndex
    while low < high {
        let middle = low + (high - low) / 2
        if key(elements[middle]) <= value {
            low = middle + 1
        } else {
            high = middle
        }
    }
    return low > elements.startIndex ? low - 1 : nil
}
