"""The phonetic name key joins Latin and Cyrillic spellings of the same name."""

import pytest

from search.languages.names import looks_like_name, name_key, query_keys

PAIRS = [
    ("Rosoboronexport", "Рособоронэкспорт"), ("Mikheev", "Михеев"), ("Shoigu", "Шойгу"),
    ("Zhuhai", "Чжухай"), ("Medvedev", "Медведев"), ("Putin", "Путин"), ("Dmitry", "Дмитрий"),
    ("Yeltsin", "Ельцин"), ("Tsiolkovsky", "Циолковский"), ("Khrushchev", "Хрущев"),
    ("Gorbachev", "Горбачев"), ("Babich", "Бабич"), ("Alexei", "Алексей"), ("Sergei", "Сергей"),
    ("Lavrov", "Лавров"), ("Maria", "Мария"), ("Navalny", "Навальный"), ("Zelensky", "Зеленский"),
    ("Jinping", "Цзиньпин"), ("Tchaikovsky", "Чайковский"), ("Chekhov", "Чехов"),
    ("Kazakhstan", "Казахстан"), ("Yekaterinburg", "Екатеринбург"), ("Tolstoy", "Толстой"),
    ("Sochi", "Сочи"), ("Gazprom", "Газпром"), ("Roscosmos", "Роскосмос"), ("Denver", "Денвер"),
    ("Panthers", "Пантерз"), ("Washington", "Вашингтон"), ("Luther", "Лютер"), ("Elway", "Элвей"),
    ("Marlee", "Марли"), ("Tesla", "Тесла"), ("Warren", "Уоррен"), ("William", "Уильям"), ("Wilson", "Уилсон"),
    ("Lewis", "Льюис"), ("Sarah", "Сара"), ("Hannah", "Ханна"), ("Deborah", "Дебора"), ("Kavanaugh", "Кавано"),
    ("Vaughan", "Воан"), ("Pittsburgh", "Питтсбург"), ("Wright", "Райт"), ("Knight", "Найт"), ("Brighton", "Брайтон"),
]


@pytest.mark.parametrize(("latin", "cyrillic"), PAIRS)
def test_latin_and_cyrillic_spellings_share_a_key(latin: str, cyrillic: str) -> None:
    assert name_key(latin) == name_key(cyrillic)


def test_different_names_have_different_keys() -> None:
    keys = {name_key(latin) for latin, _ in PAIRS}
    assert len(keys) == len(PAIRS)


def test_keys_ignore_case_and_non_letters() -> None:
    assert name_key("SHOIGU") == name_key("shoigu")
    assert name_key("Rosoboron-export") == name_key("Rosoboronexport")
    assert name_key("Шойгу") == name_key("ШОЙГУ")
    assert name_key("1949") == ""


def test_names_are_capitalised_words() -> None:
    assert looks_like_name("Михеев") and looks_like_name("PLA")
    assert not looks_like_name("оборона") and not looks_like_name("a")


@pytest.mark.parametrize(("latin", "cyrillic"), [("Palin", "Пэйлин"), ("Matthew", "Мэттью"), ("Andrew", "Эндрю"),
                                                 ("Sam", "Сэм"), ("Hamilton", "Гамильтон"), ("Harvard", "Гарвард")])
def test_a_query_also_looks_for_the_way_russian_transcribes_english(latin: str, cyrillic: str) -> None:
    assert name_key(cyrillic) in query_keys(latin)
    assert name_key(latin) in query_keys(cyrillic)
