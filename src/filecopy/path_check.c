/* Name and symlink-target rules of a file copy: the structure checks that keep
 * every entry beneath the destination and the character allowlist that keeps
 * names harmless to display. */
#include "filecopy/path_check.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

#include "common/cleanup.h"
#include "filecopy/filecopy.h"

struct cp_range {
    uint32_t first, last;
};

/* Sorted, disjoint. Whole blocks where a block is plain letters or symbols;
 * unassigned holes, combining marks and format characters cut out. */
/* clang-format off */
static const struct cp_range safe_ranges[] = {
    { 0x0020, 0x007E },   /* printable ASCII */
    { 0x00A1, 0x00AC },   /* Latin-1 punctuation and symbols (no NBSP) */
    { 0x00AE, 0x02AF },   /* Latin-1 letters (no soft hyphen), Latin Extended-A/B, IPA */
    { 0x0370, 0x0377 },   /* Greek (no combining marks 0300-036F) */
    { 0x037A, 0x037F },
    { 0x0384, 0x038A },
    { 0x038C, 0x038C },
    { 0x038E, 0x03A1 },
    { 0x03A3, 0x03E1 },
    { 0x03F0, 0x0482 },   /* Greek, Cyrillic */
    { 0x048A, 0x052F },   /* Cyrillic (no combining 0483-0489), Cyrillic Supplement */
    { 0x1100, 0x11FF },   /* Hangul Jamo */
    { 0x1C80, 0x1C88 },   /* Cyrillic Extended-C */
    { 0x1D00, 0x1DBF },   /* Phonetic Extensions (+ Supplement) */
    { 0x1E00, 0x1F15 },   /* Latin Extended Additional, Greek Extended */
    { 0x1F18, 0x1F1D },
    { 0x1F20, 0x1F45 },
    { 0x1F48, 0x1F4D },
    { 0x1F50, 0x1F57 },
    { 0x1F59, 0x1F59 },
    { 0x1F5B, 0x1F5B },
    { 0x1F5D, 0x1F5D },
    { 0x1F5F, 0x1F7D },
    { 0x1F80, 0x1FB4 },
    { 0x1FB6, 0x1FC4 },
    { 0x1FC6, 0x1FD3 },
    { 0x1FD6, 0x1FDB },
    { 0x1FDD, 0x1FEF },
    { 0x1FF2, 0x1FF4 },
    { 0x1FF6, 0x1FFE },
    { 0x2010, 0x2027 },   /* General Punctuation (no spaces, separators, bidi) */
    { 0x2030, 0x205E },   /* (no invisible operators and format 205F-206F) */
    { 0x2070, 0x2071 },   /* superscripts and subscripts */
    { 0x2074, 0x208E },
    { 0x2090, 0x209C },
    { 0x20A0, 0x20C0 },   /* currency */
    { 0x2100, 0x218B },   /* letterlike, number forms */
    { 0x2190, 0x22FF },   /* arrows, mathematical operators */
    { 0x2C60, 0x2C7F },   /* Latin Extended-C */
    { 0x2E00, 0x2E5D },   /* Supplemental Punctuation */
    { 0x3001, 0x3029 },   /* CJK symbols and punctuation (no ideographic space, */
    { 0x3030, 0x303D },   /* no tone marks 302A-302F) */
    { 0x3041, 0x3096 },   /* Hiragana (no combining 3099-309A) */
    { 0x309B, 0x30FF },   /* Katakana */
    { 0x3105, 0x312F },   /* Bopomofo */
    { 0x3131, 0x318E },   /* Hangul Compatibility Jamo */
    { 0x31A0, 0x31BF },   /* Bopomofo Extended */
    { 0x31F0, 0x31FF },   /* Katakana Phonetic Extensions */
    { 0x3400, 0x4DBF },   /* CJK Extension A */
    { 0x4E00, 0x9FFF },   /* CJK Unified Ideographs */
    { 0xA640, 0xA66E },   /* Cyrillic Extended-B (no combining A66F-A67D) */
    { 0xA67E, 0xA69D },
    { 0xA722, 0xA7CA },   /* Latin Extended-D */
    { 0xA7D0, 0xA7D1 },
    { 0xA7D3, 0xA7D3 },
    { 0xA7D5, 0xA7D9 },
    { 0xA7F2, 0xA7FF },
    { 0xA960, 0xA97C },   /* Hangul Jamo Extended-A */
    { 0xAB30, 0xAB69 },   /* Latin Extended-E */
    { 0xAC00, 0xD7A3 },   /* Hangul Syllables */
    { 0xD7B0, 0xD7C6 },   /* Hangul Jamo Extended-B */
    { 0xD7CB, 0xD7FB },
    { 0xF900, 0xFA6D },   /* CJK Compatibility Ideographs */
    { 0xFA70, 0xFAD9 },
    { 0xFB00, 0xFB06 },   /* Latin ligatures */
    { 0xFE10, 0xFE19 },   /* vertical forms */
    { 0xFE30, 0xFE52 },   /* CJK compatibility forms, small forms */
    { 0xFE54, 0xFE66 },
    { 0xFE68, 0xFE6B },
    { 0xFF01, 0xFFBE },   /* halfwidth and fullwidth forms */
    { 0xFFC2, 0xFFC7 },
    { 0xFFCA, 0xFFCF },
    { 0xFFD2, 0xFFD7 },
    { 0xFFDA, 0xFFDC },
    { 0xFFE0, 0xFFE6 },
    { 0xFFE8, 0xFFEE },
    { 0x1B000, 0x1B122 }, /* Kana Supplement, Kana Extended-A */
    { 0x1B150, 0x1B152 }, /* small Kana */
    { 0x1B164, 0x1B167 },
    { 0x20000, 0x2A6DF }, /* CJK Extension B */
    { 0x2A700, 0x2B739 }, /* CJK Extensions C, D, E, F */
    { 0x2B740, 0x2B81D },
    { 0x2B820, 0x2CEA1 },
    { 0x2CEB0, 0x2EBE0 },
    { 0x2F800, 0x2FA1D }, /* CJK Compatibility Ideographs Supplement */
    { 0x30000, 0x3134A }, /* CJK Extensions G, H */
    { 0x31350, 0x323AF },
};
/* clang-format on */

bool path_check_code_point_safe(uint32_t code_point)
{
    size_t lo = 0, hi = ARRAY_SIZE(safe_ranges);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (code_point < safe_ranges[mid].first)
            hi = mid;
        else if (code_point > safe_ranges[mid].last)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

static bool is_tail(uint8_t b)
{
    return b >= 0x80 && b <= 0xBF;
}

int path_check_utf8_char(const uint8_t *s)
{
    uint32_t cp;
    int len;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the first tail byte */
    uint8_t b = s[0];
    if (b >= 0x20 && b <= 0x7E)
        return 1;
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        cp = b & 0x0F;
        if (b == 0xE0)
            lo = 0xA0; /* no overlong forms */
        else if (b == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        cp = b & 0x07;
        if (b == 0xF0)
            lo = 0x90; /* no overlong forms */
        else if (b == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        return 0; /* controls, DEL, stray tails, C0/C1, F5-FF */
    }
    /* each byte is looked at only after the one before it was a tail, so the
     * NUL terminator stops the walk */
    if (s[1] < lo || s[1] > hi)
        return 0;
    cp = cp << 6 | (s[1] & 0x3F);
    for (int i = 2; i < len; i++) {
        if (!is_tail(s[i]))
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    return path_check_code_point_safe(cp) ? len : 0;
}

/* Walks a path component by component. Returns the number of components that
 * are not "..", or -EILSEQ (bad structure or character) / -ENOLINK (absolute,
 * empty, or a ".." beyond allowed_dotdot or after a normal component). */
static ssize_t check_path(const uint8_t *p, size_t allowed_dotdot, unsigned flags)
{
    const bool non_canonical = flags & PATH_ALLOW_NON_CANONICAL_PATHS;
    const bool any_char = flags & PATH_ALLOW_UNSAFE_CHARACTERS;
    ssize_t components = 0;

    if (p[0] == '\0')
        return non_canonical ? 0 : -ENOLINK;
    if (p[0] == '/')
        return -ENOLINK;
    size_t i = 0;
    for (;;) {
        size_t start = i;
        while (p[i] != '\0' && p[i] != '/') {
            if (any_char || (p[i] >= 0x20 && p[i] <= 0x7E)) {
                i++;
                continue;
            }
            int n = path_check_utf8_char(p + i);
            if (n == 0)
                return -EILSEQ;
            i += (size_t)n;
        }
        size_t len = i - start;
        if (len == 0 || (len == 1 && p[start] == '.')) {
            /* "//" or "." */
            if (!non_canonical)
                return -EILSEQ;
        } else if (len == 2 && p[start] == '.' && p[start + 1] == '.') {
            if (allowed_dotdot == 0)
                return -ENOLINK;
            allowed_dotdot--;
        } else {
            allowed_dotdot = 0; /* ".." only as a leading component */
            components++;
        }
        if (p[i] == '\0')
            break;
        i++; /* past '/' */
        if (p[i] == '\0') {
            if (!(flags & PATH_ALLOW_TRAILING_SLASH))
                return -EILSEQ;
            break;
        }
    }
    return components;
}

static const unsigned caller_flags =
    PATH_ALLOW_UNSAFE_CHARACTERS | PATH_ALLOW_NON_CANONICAL_SYMLINKS | PATH_ALLOW_UNSAFE_SYMLINKS;

int path_check_file_name(const char *untrusted_name, unsigned flags)
{
    flags &= PATH_ALLOW_UNSAFE_CHARACTERS; /* names themselves are always canonical */
    ssize_t n = check_path((const uint8_t *)untrusted_name, 0, flags);
    return n > 0 ? 0 : -EILSEQ;
}

int path_check_symlink(const char *untrusted_name, const char *untrusted_target, unsigned flags)
{
    flags &= caller_flags;
    ssize_t depth =
        check_path((const uint8_t *)untrusted_name, 0, flags & PATH_ALLOW_UNSAFE_CHARACTERS);
    if (depth <= 0)
        return -EILSEQ;
    if (untrusted_target[0] == '\0')
        return -ENOLINK;
    if (flags & PATH_ALLOW_UNSAFE_SYMLINKS)
        return 0;
    if (depth < 2)
        return -ENOLINK;
    unsigned target_flags = (flags & PATH_ALLOW_UNSAFE_CHARACTERS) | PATH_ALLOW_TRAILING_SLASH;
    if (flags & PATH_ALLOW_NON_CANONICAL_SYMLINKS)
        target_flags |= PATH_ALLOW_NON_CANONICAL_PATHS;
    ssize_t res = check_path((const uint8_t *)untrusted_target, (size_t)(depth - 2), target_flags);
    return res < 0 ? (int)res : 0;
}

bool path_check_qube_name(const char *untrusted_name)
{
    size_t len = strlen(untrusted_name);
    if (len < 1 || len > FILECOPY_VMNAME_SIZE - 1)
        return false;
    char c = untrusted_name[0];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        return false;
    for (size_t i = 1; i < len; i++) {
        c = untrusted_name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}
