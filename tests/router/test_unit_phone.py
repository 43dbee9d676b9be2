"""Issue 29: a unit's public telephone and office hours, optional in the registry file, checked
with the rest of the file — a bad number is refused with where it is and what is wrong, in Chinese
and English. (What enterprises then see: tests/notifier/test_urge.py.)"""

from __future__ import annotations

import pytest

from services.router.registry_file import RegistryFileError, parse

HEADER = "unit_code,name,kind,region_code,phone,office_hours\n"


def test_a_unit_may_give_its_public_telephone_and_office_hours(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(
        HEADER + "430682.tax,临湘市税务局,tax,430682,0730-3721 234转801,工作日 9:00–12:00，14:30–17:30\n"
        "430682.commerce,临湘市商务局,commerce,430682,,\n",
        encoding="utf-8",
    )
    tax, commerce = parse(path)["units"]
    assert (tax["phone"], tax["office_hours"]) == ("0730-3721 234转801", "工作日 9:00–12:00，14:30–17:30")
    assert (commerce["phone"], commerce["office_hours"]) == (None, None)


def test_a_bad_telephone_is_refused_with_its_line_in_both_languages(tmp_path):
    path = tmp_path / "units.yaml"
    path.write_text(
        "units:\n"
        "  - {unit_code: 430682.tax, name: 临湘市税务局, kind: tax, region_code: '430682', phone: call us}\n"
        "  - {unit_code: 430682.commerce, name: 临湘市商务局, kind: commerce, region_code: '430682',"
        " office_hours: x}\n",
        encoding="utf-8",
    )
    with pytest.raises(RegistryFileError) as refused:
        parse(path)
    phone, hours = refused.value.problems
    assert phone.startswith("units[0] (430682.tax): phone:") and "电话号码格式不正确：call us" in phone
    assert "Not a telephone number: call us" in phone
    assert hours.startswith("units[1] (430682.commerce): office_hours:") and "办公时间须为 2 至 100 个字" in hours
