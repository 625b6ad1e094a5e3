"""Guards: each built-in one on the swaps it exists for and the paraphrases it must let
through, invariants over generated texts, and ``guards=`` on ResponseCache and both LLM
caches (defaults on, ``()`` off, custom callables, bad values refused at construction)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.language_models.fake import FakeListLLM

from semcache_core import DEFAULT_GUARDS, InvalidArgumentError, ResponseCache, calibrate
from semcache_core.guard_kinds import CODE_KINDS, KINDS
from semcache_core.guard_words import OPPOSITES
from semcache_core.guards import (
    check_guards,
    dates_agree,
    identifiers_agree,
    kinds_agree,
    names_agree,
    negation_agrees,
    numbers_agree,
    opposites_agree,
    order_agrees,
    particles_agree,
    passes,
    persons_agree,
    qualifiers_agree,
    question_words_agree,
    roles_agree,
    units_agree,
)
from semcache_core.responses import Prompt, query_verdict
from semcache_integrations.langchain import SemCache as LangChainCache

REFUSED = [
    (numbers_agree, "What is 15% of 80?", "What is 25% of 80?"),
    (numbers_agree, "Is 7 greater than 3?", "Is 3 greater than 7?"),
    (numbers_agree, "Convert five miles to km", "Convert fifty miles to km"),
    (numbers_agree, "Explain it to a five year old", "Explain it to a young child"),
    (units_agree, "Take 5 mg twice a day", "Take 5 g twice a day"),
    (units_agree, "How many km per hour?", "How many km per minute?"),
    (units_agree, "Is it 30\u00b0C today?", "Is it 30\u00b0F today?"),
    (units_agree, "Boiling point in celsius", "Boiling point in fahrenheit"),
    (units_agree, "Does it cost $20?", "Does it cost \u20ac20?"),
    (negation_agrees, "Is this bread gluten-free?", "Does this bread contain gluten?"),
    (
        negation_agrees,
        "What foods should I avoid when pregnant?",
        "What foods should I eat when pregnant?",
    ),
    (negation_agrees, "How do I deserialize JSON?", "How do I serialize JSON?"),
    (opposites_agree, "How do I zoom in on a Mac?", "How do I zoom out on a Mac?"),
    (opposites_agree, "Is the pharmacy open at 9 am?", "Is the pharmacy open at 9 pm?"),
    (opposites_agree, "How do I base64 encode a string?", "How do I base64 decode a string?"),
    (opposites_agree, "How do I show hidden files?", "How do I hide files?"),
    (opposites_agree, "Is the basic plan free?", "Is the basic plan paid?"),
    (opposites_agree, "Does the free tier include SSO?", "Does the premium tier include SSO?"),
    (dates_agree, "Train times on Sunday", "Train times on Saturday"),
    (dates_agree, "days between june 1 and july 30", "days between june 1 and june 30"),
    (dates_agree, "Is it raining today?", "Is it raining tomorrow?"),
    (dates_agree, "meetings next week", "meetings last week"),
    (negation_agrees, "Is this safe for children?", "Is this not safe for children?"),
    (negation_agrees, "Why can't I log in?", "How do I log in?"),
    (negation_agrees, "Record a call with consent", "Record a call without consent"),
    (negation_agrees, "Which areas are safe?", "Which areas are unsafe?"),
    (negation_agrees, "What are the advantages?", "What are the disadvantages?"),
    (negation_agrees, "Is it legal here?", "Is it illegal here?"),
    (names_agree, "Visa rules for Ireland", "Visa rules for Iceland"),
    (names_agree, "Is Austria in the EU?", "Is Australia in the EU?"),
    (names_agree, "Boiling point in Celsius", "Boiling point in Fahrenheit"),
    (identifiers_agree, "What does --max-cost do?", "What does --max-heads do?"),
    (identifiers_agree, "Where is fetchOrder called?", "Where is fetchOrders called?"),
    (identifiers_agree, "`npm ci` over `npm install`?", "`npm install` over `npm ci`?"),
    (identifiers_agree, "What does %s mean in printf?", "What does %d mean in printf?"),
    (identifiers_agree, "Explain @staticmethod", "Explain @classmethod"),
    (identifiers_agree, "What does == compare?", "What does != compare?"),
    (order_agrees, "Convert Celsius to Fahrenheit", "Convert Fahrenheit to Celsius"),
    (order_agrees, "convert a string to an int", "convert an int to a string"),
    (negation_agrees, "Which plants are toxic to cats?", "Which plants are non-toxic to cats?"),
    (identifiers_agree, "What is AWS_REGION for?", "What is AWS_DEFAULT_REGION for?"),
    (identifiers_agree, "Price of SKU TS-BLK-L", "Price of SKU TS-BLK-M"),
    (identifiers_agree, "Translate 'good morning'", "Translate 'good night'"),
    (identifiers_agree, "What does numpy.argmin return?", "What does numpy.argmax return?"),
    (question_words_agree, "Who designed the tower?", "When was the tower built?"),
    (opposites_agree, "Is the museum open on Monday?", "Is the museum closed on Monday?"),
    (opposites_agree, "Cancel before it ships", "Cancel after it ships"),
    (opposites_agree, "How do I enable dark mode?", "How do I disable dark mode?"),
    (opposites_agree, "Which foods lower cholesterol?", "Which foods increase cholesterol?"),
    (opposites_agree, "Order a small pizza", "Order a large pizza"),
    (
        opposites_agree,
        "List the planets closest to the sun",
        "List the planets farthest from the sun",
    ),
    (opposites_agree, "What is a synonym of happy?", "What is an antonym of happy?"),
    (opposites_agree, "Time complexity of quicksort?", "Space complexity of quicksort?"),
    (opposites_agree, "The differences between TCP and UDP", "The similarities of TCP and UDP"),
    (names_agree, "What is the default port for HTTP?", "What is the default port for HTTPS?"),
    (
        opposites_agree,
        "Blood pressure range for hypertension",
        "Blood pressure range for hypotension",
    ),
    (opposites_agree, "Did we overestimate the cost?", "Did we underestimate the cost?"),
    (opposites_agree, "What is my pre-tax income?", "What is my post-tax income?"),
    (opposites_agree, "Daily dose in milligrams?", "Daily dose in micrograms?"),
    (units_agree, "How many tablespoons in a cup?", "How many teaspoons in a cup?"),
    (units_agree, "Convert 2 cups to tablespoons", "Convert 2 cups to teaspoons"),
    (units_agree, "How long is a marathon in miles?", "How long is a marathon in kilometers?"),
    (units_agree, "How much does it weigh in pounds?", "How much does it weigh in kilograms?"),
    # the business-impact stream's near misses (benchmarks/bench_llm_cache.py)
    (dates_agree, "Tomorrow's forecast for Chicago?", "Today's forecast for Chicago?"),
    (dates_agree, "bank hours christmas eve", "bank hours christmas day"),
    (order_agrees, "converting celsius into fahrenheit", "How do I convert Fahrenheit to Celsius?"),
    (order_agrees, "java int to string", "How do I convert a string to an int in Java?"),
    (order_agrees, "Java: turn an integer into a String", "convert a string to an int in Java"),
    (order_agrees, "a flight from Paris to Rome", "a flight to Paris from Rome"),
    (negation_agrees, "simple pancakes recipe using eggs", "simple eggless pancakes recipe"),
    (negation_agrees, "I am unable to reset my password", "How do I reset my password?"),
    (opposites_agree, "Upper age limit for car rental?", "Minimum age for car rental?"),
    (
        opposites_agree,
        "how young can you be to rent a car",
        "What is the maximum age to rent a car?",
    ),
    (opposites_agree, "Which foods raise cholesterol?", "What foods bring cholesterol down?"),
    (
        opposites_agree,
        "Vegetables that are fine for dogs",
        "Vegetables that are dangerous for dogs",
    ),
    (kinds_agree, "The balance of my credit card?", "The balance of my checking account?"),
    (kinds_agree, "How much luggage can I bring on the plane?", "How much luggage on the bus?"),
    (kinds_agree, "Can dogs eat grapes?", "Can cats eat grapes?"),
    (kinds_agree, "How do I install pip on windows?", "How do I install pip on linux?"),
    (qualifiers_agree, "I want to send money abroad", "I want to send money to my mother"),
    (qualifiers_agree, "Send money to a bank abroad", "Send money to a domestic bank"),
    (qualifiers_agree, "How old is too old to rent a car?", "How old must you be to rent a car?"),
    # found by review of the above
    (order_agrees, "Convert a JSON string into a Python dict", "Convert a Python dict to JSON"),
    (order_agrees, "Convert a Word document to a PDF", "Convert a PDF file into a Word doc"),
    (kinds_agree, "How do I clean my cat's ears?", "How do I clean my dog\u2019s ears?"),
    (kinds_agree, "Healthy lunches for kids", "Healthy breakfasts for kids"),
    (kinds_agree, "Can kitties eat tuna?", "Can puppies eat tuna?"),
    (dates_agree, "The weather the day after tomorrow?", "The weather tomorrow?"),
    (dates_agree, "What was todays score?", "What was yesterdays score?"),
    (dates_agree, "Is there a holiday this Friday?", "Is there a holiday next Friday?"),
    (kinds_agree, "What's on TV this morning?", "What's on TV this afternoon?"),
    (qualifiers_agree, "Is my dog too old to be trained?", "Is my dog too young to be trained?"),
    (opposites_agree, "Which foods raise cholesterol?", "What foods bring cholesterol down?"),
    # found by a second review
    (order_agrees, "Celsius \u2192 Fahrenheit formula", "Formula to convert Fahrenheit to Celsius"),
    (order_agrees, "Move money out of my savings account", "Move money into my savings account"),
    (order_agrees, "Can I catch a cold from my dog?", "Can my dog catch a cold from me?"),
    (
        qualifiers_agree,
        "Is it bad to drink too much water?",
        "Is it bad to drink too little water?",
    ),
    (
        qualifiers_agree,
        "Can I send money out of the country?",
        "Can I send money within the country?",
    ),
    (qualifiers_agree, "Is shipping free for local orders?", "Free shipping to other countries?"),
    (opposites_agree, "Why is my cat gaining weight?", "Why is my cat losing weight?"),
    (opposites_agree, "How do I make my sauce thicker?", "How do I make my sauce thinner?"),
    (dates_agree, "Open the day after Christmas?", "Open on Christmas?"),
    (dates_agree, "Is the gym open Monday after next?", "Is the gym open Monday?"),
    (kinds_agree, "Will it rain tomorrow afternoon?", "Will it rain tomorrow night?"),
    (kinds_agree, "How do I take a screenshot on a pc?", "How do I take a screenshot on a mac?"),
    (kinds_agree, "how do i screenshot on iphone", "how do i screenshot on android"),
    (kinds_agree, "What do guinea pigs eat?", "What do pigs eat?"),
    (kinds_agree, "How long do I grill a salmon?", "How long do I bake a salmon?"),
    (
        opposites_agree,
        "VS Code: how to shrink the editor font?",
        "VS Code: how to enlarge the font?",
    ),
    (kinds_agree, "What do guinea-pigs eat?", "What do pigs eat?"),
    (kinds_agree, "How many players in rugby union?", "How many players in rugby league?"),
    (kinds_agree, "Interest on my current account?", "Interest on my savings account?"),
    (dates_agree, "What was the price a week ago?", "What will the price be a week from now?"),
    (dates_agree, "Where was it 3 days ago?", "Where will it be 3 days from now?"),
    (dates_agree, "What did I spend 3 days ago?", "What will I spend in 3 days?"),
    (names_agree, "Nigeria's capital is which city?", "Niger's capital is which city?"),
    (opposites_agree, "veggies that are toxic to dogs", "safe veggies for dogs"),
    (opposites_agree, "Is this mushroom poisonous?", "Is this mushroom harmless?"),
    (opposites_agree, "excel hide column", "Unhiding columns in Excel - how?"),
    (
        kinds_agree,
        "Show me how to reverse a string with Python",
        "Show me how to reverse a list with Python",
    ),
    (kinds_agree, "How do I sort a dict in Python?", "How do I sort a tuple in Python?"),
    (kinds_agree, "What do guinea fowl eat?", "What do chickens eat?"),
    (kinds_agree, "Can I air fry chicken wings?", "Can I deep fry chicken wings?"),
    (kinds_agree, "How many players in touch rugby?", "How many players in rugby union?"),
    (dates_agree, "What was the price one week ago?", "What will the price be in one week?"),
    (dates_agree, "Where was it twenty years ago?", "Where will it be in twenty years?"),
    (dates_agree, "Was it colder than now 3 days ago?", "Will it be colder than now in 3 days?"),
    (opposites_agree, "Is this mushroom edible?", "Is this mushroom poisonous?"),
    (kinds_agree, "What do guinea hens eat?", "What do chickens eat?"),
    (kinds_agree, "Are air fryers healthy?", "Are deep fryers healthy?"),
    # served with MiniLM at 0.87 before (a review of time windows)
    (dates_agree, "Can I cancel within 24 hours?", "Can I cancel after 24 hours?"),
    (dates_agree, "Refundable if I cancel within a week?", "...more than a week in advance?"),
    (dates_agree, "Covered within the warranty period?", "Covered beyond the warranty period?"),
    (dates_agree, "Can I exchange a gift within 60 days?", "Exchange a gift past 60 days?"),
    # served with MiniLM at 0.87 before (a hunt for classes the guards missed)
    (order_agrees, "Can I sue my roommate?", "Can my roommate sue me?"),
    (order_agrees, "Do I owe my tenant money?", "Does my tenant owe me money?"),
    (order_agrees, "Am I older than my brother?", "Is my brother older than me?"),
    (
        opposites_agree,
        "Can I disclose a DUI on a job form?",
        "Must I disclose a DUI on a job form?",
    ),
    (opposites_agree, "Do all cats hate water?", "Do most cats hate water?"),
    (opposites_agree, "Do all insects have six legs?", "Do some insects have six legs?"),
    (opposites_agree, "Do most cats hate water?", "Do few cats hate water?"),
    (opposites_agree, "How many days until Halloween?", "How many days since Halloween?"),
    (opposites_agree, "What to drink during a workout?", "What to drink after a workout?"),
    (opposites_agree, "Can I take tylenol during surgery?", "Can I take tylenol before surgery?"),
    (opposites_agree, "What can I take instead of ibuprofen?", "What can I take with ibuprofen?"),
    (
        numbers_agree,
        "Handle thousands of requests a second?",
        "Handle millions of requests a second?",
    ),
    (numbers_agree, "Who won the eleventh season?", "Who won the twelfth season?"),
    (opposites_agree, "Who is the CEO of Twitter?", "Who was the CEO of Twitter?"),
    (
        order_agrees,
        "Is a crocodile bigger than an alligator?",
        "Is an alligator larger than a crocodile?",
    ),
    (order_agrees, "Why do people prefer vim to emacs?", "Why do people prefer emacs over vim?"),
    # a longer comparative between the sides (the first hunt's comparative reversals)
    (order_agrees, "is coffee healthier than tea", "is tea better for you than coffee"),
    (
        order_agrees,
        "Is coffee really that much better for your heart than tea?",
        "Is tea really that much better for the heart than coffee?",
    ),
    (
        order_agrees,
        "why is a roth ira more popular than a traditional ira",
        "why is a traditional ira more widespread than a roth ira",
    ),
    # served with MiniLM at 0.87 before (a second hunt)
    (persons_agree, "What is my IP address?", "What is your IP address?"),
    (persons_agree, "What's your favorite book of all time?", "What's my favorite book?"),
    (persons_agree, "Do you have access to my files?", "Do I have access to your files?"),
    (persons_agree, "Can you see my screen?", "Can I see your screen?"),
    (opposites_agree, "Do I have to give two weeks' notice?", "Should I give two weeks' notice?"),
    (opposites_agree, "Is a permit required to build a shed?", "Should I get a permit for a shed?"),
    (opposites_agree, "Will the Fed cut rates in June?", "Did the Fed cut rates in June?"),
    (opposites_agree, "How much will eggs cost?", "How much did eggs cost?"),
    (opposites_agree, "Is it going to snow in Denver?", "Did it snow in Denver?"),
    (question_words_agree, "Why do cats purr?", "How do cats purr?"),
    # served with MiniLM at 0.87 before (the hunts' future against present and past)
    (opposites_agree, "Will AI replace programmers?", "Has AI replaced programmers?"),
    (opposites_agree, "who is the ceo of twitter", "who will be the ceo of twitter"),
    (opposites_agree, "Will the roads be icy?", "Are the roads icy?"),
    (opposites_agree, "Who's the CEO of Twitter?", "Who will be the CEO of Twitter?"),
    (opposites_agree, "Is coffee safe during pregnancy?", "Is coffee safe?"),
    # served with MiniLM at 0.87 before (the second hunt's author, subject, addressee)
    (opposites_agree, "Letters written by Van Gogh", "Letters written to Van Gogh"),
    (opposites_agree, "Interviews with Keanu Reeves", "Interviews by Keanu Reeves"),
    (opposites_agree, "What did critics write about Hemingway?", "What did critics write for him?"),
    # served with MiniLM at 0.87 before (the second hunt's life stages)
    (opposites_agree, "What vaccines does a kitten need?", "What vaccines does a cat need?"),
    (opposites_agree, "Can a puppy eat peanut butter?", "Can a dog eat peanut butter?"),
    (opposites_agree, "What should I feed a baby bird?", "What should I feed a bird?"),
    # served with MiniLM at 0.87 before (the second hunt's question words)
    (question_words_agree, "Why do bees make honey?", "How do bees make honey?"),
    (question_words_agree, "Where did Lincoln die?", "How did Lincoln die?"),
    (question_words_agree, "How did Marie Curie die?", "When did Marie Curie die?"),
    (opposites_agree, "How to treat a mild sunburn", "How to treat a severe sunburn"),
    (opposites_agree, "Why is my top lip swollen?", "Why is my bottom lip swollen?"),
    (opposites_agree, "Is lemon juice acidic?", "Is lemon juice alkaline?"),
    (opposites_agree, "Is a normal heartbeat regular?", "Is an abnormal heartbeat regular?"),
    (opposites_agree, "How deep is the pool?", "How shallow is the pool?"),
    (opposites_agree, "Can dogs eat raw chicken?", "Can dogs eat cooked chicken?"),
    (opposites_agree, "How to prevent shin splints?", "How to treat shin splints?"),
    (opposites_agree, "How do you prevent root rot?", "How do you fix root rot?"),
    (kinds_agree, "Can a toddler eat honey?", "Can a newborn eat honey?"),
    (roles_agree, "How does stress affect sleep?", "How is stress affected by sleep?"),
    (roles_agree, "Does the immune system attack cancer cells?", "Is it attacked by cancer?"),
    (roles_agree, "Who killed Caesar?", "Who was killed by Caesar?"),
    (roles_agree, "Who killed Caesar?", "Who did Caesar kill?"),
    (roles_agree, "What company owns Instagram?", "What company does Instagram own?"),
    (roles_agree, "What is sleep affected by?", "What does sleep affect?"),
    (roles_agree, "Who was Caesar killed by?", "Who did Caesar kill?"),
    (opposites_agree, "Who voted for the bill?", "Who voted against the bill?"),
    (opposites_agree, "Arguments in favor of nuclear power", "Arguments against nuclear power"),
    (opposites_agree, "Does my landlord need to give notice?", "Can my landlord give notice?"),
    (
        opposites_agree,
        "Do I have to help people who can't pay?",
        "Can I help people who can't pay?",
    ),
    (opposites_agree, "Are any mushrooms poisonous?", "Are most mushrooms poisonous?"),
    (opposites_agree, "What can I use in place of eggs?", "What can I use along with eggs?"),
    (order_agrees, "Reasons to choose cats over dogs", "Reasons to pick dogs instead of cats"),
    (order_agrees, "Benefits of tea compared with coffee", "Advantages of coffee compared to tea"),
    (opposites_agree, "Do I need to register my drone?", "Am I allowed to register my drone?"),
    (roles_agree, "can I track my landlord's phone", "can my landlord track my phone"),
    (numbers_agree, "What is the largest country?", "What is the second largest country?"),
    (opposites_agree, "what can a landlord legally do", "what can a tenant legally do"),
    (opposites_agree, "How do I freeze breast milk?", "How do I thaw breast milk?"),
    (opposites_agree, "How to learn guitar", "How to teach guitar"),
    (opposites_agree, "What can I serve besides rice?", "What can I serve with rice?"),
    (opposites_agree, "What taxes does a buyer pay?", "What taxes does a seller pay?"),
    (numbers_agree, "the most spoken language", "the second-most spoken language"),
    (numbers_agree, "the second best option", "the third best option"),
    (roles_agree, "What if I hit my neighbor's car?", "What if my neighbor hits my car?"),
    (roles_agree, "Can I check my husband's phone?", "Can my husband check his phone?"),
    # served with MiniLM at 0.87 before (the hunts' persons, tenses, life stages, works)
    (persons_agree, "how do I update my phone number", "how do I update your phone number"),
    (persons_agree, "can you reset my password", "can you reset your password"),
    (persons_agree, "Tell me about yourself.", "Tell me about myself."),
    (opposites_agree, "Who is winning the election?", "Who will win the election?"),
    (opposites_agree, "Who's winning the election?", "Who'll win the election?"),
    (opposites_agree, "Is the Fed cutting rates?", "Will the Fed cut rates?"),
    (opposites_agree, "Is it going to rain?", "Is it raining?"),
    (opposites_agree, "Are mortgage rates high?", "Are mortgage rates gonna be high?"),
    (opposites_agree, "Who will be the next CEO of Disney?", "Who is the CEO of Disney?"),
    (opposites_agree, "What do lambs eat?", "What do sheep eat?"),
    (opposites_agree, "What do cubs eat?", "What do bears eat?"),
    (opposites_agree, "By whom was Hamlet written?", "For whom was Hamlet written?"),
    (opposites_agree, "Songs dedicated to Elvis", "Songs by Elvis"),
    # served with MiniLM at 0.87 before (the fourth hunt's pictures, song for / by, young)
    (opposites_agree, "Photos of Obama", "Photos by Obama"),
    (opposites_agree, "famous portraits of Rembrandt", "famous portraits by Rembrandt"),
    (roles_agree, "Who is this song for?", "Who is this song by?"),
    (opposites_agree, "What do fawns eat?", "What do deer eat?"),
    (opposites_agree, "What do joeys eat?", "What do kangaroos eat?"),
    (opposites_agree, "What do young goats eat?", "What do goats eat?"),
    (opposites_agree, "Is this course for young adults?", "Is this course for adults?"),
    (opposites_agree, "Where can I watch videos of MrBeast?", "... videos by MrBeast?"),
    (opposites_agree, "What do goslings eat?", "What do geese eat?"),
    (opposites_agree, "Is ibuprofen safe for adolescents?", "Is ibuprofen safe?"),
    (roles_agree, "Who is the letter from?", "Who is the letter for?"),
    (roles_agree, "what city did they move from", "what city did they move to"),
    (roles_agree, "Who did Taylor Swift write the song about?", "Who did she write it with?"),
    (roles_agree, "Who is the letter from? I can't read it.", "Who is it for? I can't read it."),
    (opposites_agree, "Photos taken of Marilyn Monroe", "Photos taken by Marilyn Monroe"),
    (opposites_agree, "From whom is the letter?", "For whom is the letter?"),
    # served with MiniLM at 0.87 before (the eighth hunt's particles)
    (particles_agree, "How do I shut my laptop down?", "How do I shut my laptop?"),
    (particles_agree, "How do I log all my users out?", "How do I log all my users?"),
    (particles_agree, "How much cash can I take out?", "How much cash can I take?"),
    (particles_agree, "How do I get my passport back?", "How do I get my passport?"),
    # served with MiniLM at 0.80 before (the tenth hunt: what is measured, which figure, a
    # difference or a likeness, cause or remedy, what a choice is made for)
    (kinds_agree, "How tall is a giraffe?", "How heavy is a giraffe?"),
    (kinds_agree, "How thick should a concrete driveway be?", "How wide should it be?"),
    (kinds_agree, "What's the minimum wage in California?", "What's the average wage there?"),
    (kinds_agree, "Recommended tire pressure for a Civic?", "Maximum tire pressure for a Civic?"),
    (kinds_agree, "How do mitosis and meiosis differ?", "What do they have in common?"),
    (kinds_agree, "How are viruses and bacteria different?", "How are they similar?"),
    (kinds_agree, "What causes acid reflux at night?", "What relieves acid reflux at night?"),
    (kinds_agree, "What are the symptoms of strep throat?", "What is the treatment for it?"),
    (kinds_agree, "What is the main cause of soil erosion?", "What is its main consequence?"),
    (kinds_agree, "Which airline is cheapest to Hawaii?", "Which airline is safest to Hawaii?"),
    (kinds_agree, "How do I get rid of ants naturally?", "How do I get rid of ants permanently?"),
    (kinds_agree, "What are the signs of diabetes?", "What causes diabetes?"),
    (kinds_agree, "How high can a kangaroo jump?", "How heavy is a kangaroo?"),
    (opposites_agree, "What are the positives of homeschooling?", "... the negatives of it?"),
    (opposites_agree, "Strengths of a microservices architecture?", "Its weaknesses?"),
]

SERVED = [
    "What if he empties out the tank?|What if he empties the tank?",
    "How far away is the nearest gas station?|How far is the nearest gas station?",
    "How many minutes should I boil an egg for?|How many minutes should I boil an egg?",
    "Is there a free trial?|Can I try it for free?",
    "How long to bake chicken breast at 400F?|How long to roast chicken breast at 400F?",
    "Started 2 weeks ago; the date 6 weeks from now?|Started 2 weeks ago; the date in 6 weeks?",
    "Paid 2 years ago, hence is it still on my report?|Paid 2 years ago, is it still on my report?",
    "How long to bake a potato?|Baking time for a potato?",
    "How do I enlarge the font?|How do I make the font bigger?",
    "How long ago did the Romans leave Britain?|When did the Romans leave Britain?",
    "What's the weather 3 days from now?|What's the weather in 3 days?",
    "Summarize the top stories from today's news|Summarize today's top news stories",
    "Can I open a current account online?|Can I open a checking account online?",
    "Do guinea pigs need a friend?|Does my guinea pig need a friend?",
    "What was the price a week ago?|What was the price one week ago?",
    "How do I reset my password?|how can I reset my password",
    "Can I see my doctor's notes?|Can my doctor's notes be seen by me?",
    "Can a landlord evict a tenant?|Can a tenant be evicted by their landlord?",
    "What can I use besides eggs in a cake?|What can I use instead of eggs in a cake?",
    "What rights does a tenant have against a landlord?|What are a tenant's rights?",
    "How do I reset my router's password?|How do I reset the password of my router?",
    "How tall is the Eiffel Tower?|What is the height of the Eiffel Tower?",
    "Is the museum open on Monday?|Is the museum open Mondays?",
    "What is 15% of 80?|Calculate 15 percent of 80.",
    "Why does it render two times?|Why does it render twice?",
    "What's the capital of France?|what is france's capital",
    "How do I turn off notifications?|How can I disable notifications?",
    "What does `git rebase` do?|Explain `git rebase`.",
    "Is it open on Christmas Day?|Is it open on Christmas Day??",
    "Does it cost $20?|Is the price $20?",
    "How long is 5 km in miles?|How long is 5 kilometres in miles?",
    "How many hours of sleep does a teen need?|How much sleep does a teen need?",
    "Is 15% off the sale price?|Is the discount 15% off the sale price?",
    "What is the opposite of happy?|What is an antonym of happy?",
    "How do Python's APIs work?|How does the Python API work?",
    "How many people live in Paris?|How many residents live in Paris?",
    "Give me an overview of the plan|Give me a summary of the plan",
    "How do I convert Celsius to Fahrenheit?|converting celsius into fahrenheit - how?",
    "How do I convert a string to an int in Java?|How to get an int from a String in Java?",
    "Flights from London to Paris|London to Paris flights",
    "Can I send money abroad?|Can I send money overseas?",
    "How many calories are in a puppy's food?|How many calories are in puppy food?",
    "Is it safe for dogs?|Is it fine for dogs?",
    "Can I bring my dog too?|Can I also bring my dog?",
    "How to get to the airport?|How do I get to the airport?",
    "What is the best way to learn to code?|How do I learn to code?",
    "Convert a JSON string into a Python dict|Parse JSON string to dict in Python",
    "upload to google drive via terminal|Command line tool to upload a file to Google Drive?",
    "How do I free up disk space?|How do I reduce disk usage?",
    "How do I speed up my laptop?|How do I reduce lag on my laptop?",
    "Is it safe for my cat to drink milk?|Can I give milk to my cat?",
    "How do I stop my dog from barking at night?|How to get my dog to stop barking at night?",
    "What is the youngest age to get a credit card?|How old do I need to be to get a credit card?",
    "Can I pay with cash too if I have a card?|Can I also pay with cash if I have a card?",
    "Was the store open this past Friday?|Was the store open last Friday?",
    "Can I use my debit card abroad?|Can I use my debit card in other countries?",
    "How do I learn a foreign language fast?|How do I learn a new language quickly?",
    "Nigeria's capital is which city?|What is the capital of Nigeria?",
    "Today's weather in Paris?|What is the weather in Paris today?",
    "What's the capital of Austria?|Tell me the capital city of Austria",
    "It's raining in Oslo, what should I wear?|What should I wear for rain in Oslo?",
    "Is chocolate toxic to dogs?|Is chocolate poisonous to dogs?",
    "How do I reverse an array in JavaScript?|How do I reverse a list in JavaScript?",
    "Why does my login keep failing?|My login fails every time, why?",
    "I tried to log in but it keeps failing|Something stops me when I try to log in",
    "Will it arrive within 3 days?|Will it arrive in 3 days?",
    "I want my money back|I want a refund of my money",
    "Driver's license renewal, how do I do it?|How do I renew my license to drive?",
    "What's the capital of Nigeria?|Nigeria's capital is which city?",
    "Give me a list of synonyms for happy|What does the dictionary give as synonyms for happy?",
    "Which fruits float in water?|List fruits that are buoyant in water",
    "How much has rent gone up in 5 years?|How much higher is rent now than 5 years ago?",
    "What do guinea fowl eat?|What do guinea hens eat?",
    "Are air fryers healthier than deep frying?|Is an air fryer healthier than a deep fryer?",
    "My car battery failed, can I jump start it?|My car battery died, can I jump start it?",
    "Can I return an item within 30 days?|Can I return an item up to 30 days after purchase?",
    "Can I still get a refund after 14 days?|Can I still get a refund beyond 14 days?",
    "How many cases in the past 24 hours?|How many cases within 24 hours?",
    "Is the refund made within 5 days after approval?|Is the refund made within 5 days of it?",
    "What can I use instead of butter?|What is a substitute for butter?",
    "Can I get a refund?|May I get a refund?",
    "How can I reset my password?|How do I reset my password?",
    "Do all dogs need vaccines?|Do all dogs need to be vaccinated?",
    "How many days until Christmas?|How many days till Christmas?",
    "Is Python faster than Java?|Is Python quicker than Java?",
    "What is the best laptop for students?|Which is the best laptop for students?",
    "Is ibuprofen safe for kids?|Is ibuprofen safe for children?",
    "Do I need to see a doctor for a sprained ankle?|Should I see a doctor for a sprained ankle?",
    # found by a review of this release's rules: each was refused by a first version
    "Where do I change my password?|How do I change my password?",
    "Why does salt make ice melt?|How does salt make ice melt?",
    "How much is shipping?|How much will shipping cost?",
    "What time is the meeting?|What time will the meeting be?",
    "Are my photos safe if I delete the app?|Will my photos be safe if I delete the app?",
    "Have you got a table for four tonight?|Will you have a table for four tonight?",
    "Which has more caffeine, coffee or tea?|Which will give me more caffeine, coffee or tea?",
    "Can you eat sushi while pregnant?|Can you eat sushi during pregnancy?",
    "How do I kill a child process in Linux?|How do I kill a subprocess in Linux?",
    "Are baby carrots healthy?|Are carrots healthy?",
    "Best movies for kids on Netflix?|Best children's movies on Netflix?",
    "Poems about grief to read at a funeral?|Poems for a funeral about grief?",
    "Good books on Python|Good books about Python",
    "Movies with Tom Hanks|Movies starring Tom Hanks",
    "How do I write to a file in Python?|How do I write a file in Python?",
    "Is the museum open on Monday?|Will the museum be open this Monday?",
    "What is the weather in Paris tomorrow?|Will it rain in Paris tomorrow?",
    "What happens if I cancel?|What will happen if I cancel?",
    "Is 3 mg of melatonin safe?|Is a 3 mg dose of melatonin safe for adults?",
    "Why does coffee make you jittery?|How does coffee make you jittery?",
    "Is coffee healthier than tea?|Is coffee better for you than tea?",
    "Is a cheetah faster than a lion?|Which is faster, a cheetah or a lion?",
    "Is it safe for kids over 12?|Is it safe for children over 12?",
    "How do I reset my password?|How do you reset your password?",
    "What happens if I'm late on rent?|What happens if you're late on rent?",
    "Can I take ibuprofen with coffee?|Can one take ibuprofen with coffee?",
    "How come the sky is blue?|Why is the sky blue?",
    "Is it going to rain in Oslo?|Will it rain in Oslo?",
    "What must I do to get a visa?|What do I have to do to get a visa?",
    "How can I treat heat stroke?|What should I do for heat stroke?",
    "How many days until Christmas?|How long until Christmas?",
    "How does sleep affect stress?|How is stress affected by sleep?",
    "Who did Caesar kill?|Who was killed by Caesar?",
    "Is my data collected by Google?|Does Google collect my data?",
    "What is covered by my insurance?|What does my insurance cover?",
    "Who did Kim Kardashian marry?|Who married Kim Kardashian?",
    "Who did Taylor Swift date?|Who dated Taylor Swift?",
    "Could you explain how to upload a photo?|I'd like to upload a photo, how does it work?",
    "Tell me whether pets are allowed on the plane|Can you check whether pets are allowed?",
    "What are the steps to cancel an order? Thank you.|How do I cancel my order?",
    # found by a review of the rules above: paraphrases they refused at first
    "Is it bad to crack my knuckles?|Is it bad to crack your knuckles?",
    "How much water does my body need?|How much water does your body need?",
    "How do I change my email?|How to change your email?",
    "Can you tell me if I have to tip in Japan?|Do I have to tip in Japan?",
    "Could you recommend a laptop for coding?|Which laptop should I buy for coding?",
    "Can tickets be purchased by phone?|Can I purchase tickets by phone?",
    "Is my house insured against theft?|Is my house insured for theft?",
    "What is sleep affected by?|What affects sleep?",
    "Who did John Lennon work with?|Who worked with John Lennon?",
    "What age do you have to be to rent a car?|At what age can you rent a car?",
    "Why does smoking cause cancer?|How does smoking cause cancer?",
    "How is my battery draining so fast?|Why is my battery draining so fast?",
    "Can my baby eat honey?|Can my newborn eat honey?",
    "Why can't I log in?|Why can't you log in?",
    "I want you to write me a poem about autumn|Can you write me a poem about autumn?",
    "What can I use in place of butter?|What can I use instead of butter?",
    "Reasons to choose cats over dogs|Reasons to pick cats instead of dogs",
    "Is there any way to fix it?|Is there a way to fix it?",
    "How do I track my order?|Where can I see the tracking for my order?",
    "How long should the dough proof?|How much time does the dough need to rise?",
    "Do I have to file a tax return?|Do I need to file a tax return?",
    # paraphrases beside the rules for tense and persons added with the hunts' pairs
    "When is my order arriving?|When will my order arrive?",
    "Is he going to the gym?|Is he at the gym?",
    "Who will be the next CEO?|Who is the next CEO?",
    "Can you reset my password?|Could you reset my password?",
    "Letters from Van Gogh|Letters by Van Gogh",
    # found by a review of those rules: paraphrases their first version refused
    "Are you shipping to Canada?|Will you ship to Canada?",
    "Is Apple releasing a new iPhone?|Will Apple release a new iPhone?",
    "Can you tell me how to reset my password?|Can you tell me how to reset your password?",
    "I was wondering how often I should replace my filter|I was wondering how often you "
    "should replace your filter",
    "What should I feed my pup?|What should I feed my puppy?",
    "Where can I buy lamb's lettuce?|Where can I buy corn salad?",
    "With whom should I lodge a complaint?|To whom should I lodge a complaint?",
    "How do I download songs from Spotify?|How do I download songs on Spotify?",
    "A podcast dedicated to personal finance|A podcast about personal finance",
    # the pictures, last-preposition and life-stage rules keep these
    "What do young lions eat?|What do lion cubs eat?",
    "How young can you be to rent a car?|What is the minimum age to rent a car?",
    "Am I young enough to join the army?|Am I under the age limit to join the army?",
    "Young's modulus of steel|the elastic modulus of steel",
    "Pictures of the Eiffel Tower|Photos of the Eiffel Tower",
    "Photographs taken by Ansel Adams|Pictures by Ansel Adams",
    "The songs of Bob Dylan|Songs by Bob Dylan",
    "Is this song for kids?|Is this song suitable for kids?",
    "best chick flicks of the 90s|best romantic comedies of the 90s",
    "Who was the letter meant for?|Who was the letter addressed to?",
    "What is this tool used for?|What's this tool for?",
    "Where does this wine come from?|Where is this wine from?",
    "Who did he lose to?|Who was he beaten by?",
    "Who should I talk to?|Who should I speak with?",
    "What is it made of?|What is it made from?",
    "Post photos on Instagram|Upload pictures to Instagram",
    "Sort the photos of my trip by date|Sort my trip photos by date",
    "Jobs for young professionals|Jobs for early-career professionals",
    "Is the night young?|Is it still early in the night?",
    "Where can I buy kitten heels?|Where can I buy low heels?",
    "Why do people fawn over celebrities?|Why do people idolize celebrities?",
    # the tenth and eleventh hunts' paraphrases beside the rules for what is measured,
    # which figure, a likeness, cause or remedy, and what a choice is made for
    "How long does standard shipping take?|How fast is standard shipping?",
    "How long is a marathon?|What's the distance of a marathon?",
    "How high does a Boeing 737 fly?|What's the cruising altitude of a Boeing 737?",
    "How deep is Lake Tahoe?|What's the depth of Lake Tahoe?",
    "What's the normal resting heart rate?|What's a typical resting heart rate for adults?",
    "What's the minimum wage in California?|What's the lowest legal pay in California?",
    "What's the average lifespan of a house cat?|How long do house cats usually live?",
    "What do mitosis and meiosis have in common?|What are the similarities between them?",
    "What causes migraines?|What triggers migraine headaches?",
    "What are the symptoms of iron deficiency?|What are the signs of low iron?",
    "How do you fix a leaky faucet?|How do I repair a dripping faucet?",
    "What's the cheapest way to Paris from London?|How to get to Paris from London on a budget?",
    "What foods are high in fiber?|What foods are rich in fiber?",
    "Is it a big deal if I miss a dose?|Does it matter if I miss a dose?",
    "Are there restaurants near me?|Are there restaurants in my area?",
    "What are the best hotels near Yosemite?|Where should I stay close to Yosemite?",
    "Pros and cons of microservices?|Strengths and weaknesses of microservices?",
    # found by a review of those rules: paraphrases their first version refused
    "How high is the risk of a second stroke?|How big is the risk of a second stroke?",
    "Is my internet speed high enough for 4K?|Is my internet speed fast enough for 4K?",
    "Why is my electricity bill so high?|Why is my electricity bill so big?",
    "How deep should I plant tulip bulbs?|How far down should I plant tulip bulbs?",
    "How far can I drive on a spare tire?|How long can I drive on a spare tire?",
    "What's the normal tire pressure for a Civic?|What's the recommended one for a Civic?",
    "What's the typical home price in Austin?|What's the median home price in Austin?",
    "Are there any gas stations nearby?|Are there any gas stations in this area?",
    "Can stress cause hair loss?|Is hair loss a side effect of stress?",
    "How do I sign in to Gmail?|How do I fix my Gmail sign in?",
    "Did I need to get a visa for Japan last year?|Did I need a visa for Japan last year?",
    "Did they have to evacuate the building?|Were they forced to evacuate the building?",
    "Did we have to show ID at the polls?|Was ID required at the polls?",
]


@pytest.mark.parametrize(("guard", "new", "stored"), REFUSED)
def test_each_guard_refuses_the_swap_it_exists_for(guard: Any, new: str, stored: str) -> None:
    assert guard(new, stored) is False
    assert guard(stored, new) is False  # whichever side is cached
    assert not passes(DEFAULT_GUARDS, new, stored)


def test_second_counts_as_a_number_only_as_a_rank() -> None:
    assert not numbers_agree("the tallest mountain", "the second tallest mountain")
    assert not numbers_agree("the second-most visited city", "the 3rd most visited city")
    assert numbers_agree("the second largest city", "the 2nd largest city")
    for other in (
        "a second opinion", "a second test", "wait a second", "a second interest",
        "a second Budapest hotel",
    ):  # fmt: skip
        assert numbers_agree(other, other.replace("a second", "another")), other


@pytest.mark.parametrize("pair", SERVED)
def test_the_default_guards_let_paraphrases_through(pair: str) -> None:
    new, stored = pair.split("|")
    refused_by = [guard.__name__ for guard in DEFAULT_GUARDS if not guard(new, stored)]
    assert refused_by == []


VOCABULARY = [
    "the", "a", "is", "open", "closed", "not", "never", "without", "can't", "Ireland",
    "Iceland", "7", "15%", "3.11", "five", "twice", "Monday", "tomorrow", "next week",
    "--force", "fetchOrder", "`npm ci`", "'good night'", "who", "when", "before", "after",
    "safe", "unsafe", "Paris", "and", "?", ".", "\n", "How", "do", "I", "reset", "enable",
    "to", "from", "into", "string", "int", "too", "old", "abroad", "dogs", "cats", "eggless",
    "eggs", "eve", "today's", "upper", "minimum", "credit", "checking", "ago", "from now",
    "\u2013", "guinea pig", "pigs", "rugby union", "league",
    "current account", "savings", "fails", "stops me", "Nigeria's", "What's", "in 3 days",
    "toxic", "air fry", "list",
]  # fmt: skip
texts = st.lists(st.sampled_from(VOCABULARY), max_size=14).map(" ".join)
any_text = st.one_of(texts, st.text(max_size=60))


@settings(max_examples=300, deadline=None)
@given(any_text, any_text)
def test_every_default_guard_is_symmetric_and_lets_a_text_match_itself(a: str, b: str) -> None:
    for guard in DEFAULT_GUARDS:
        assert guard(a, a) is True, guard.__name__
        assert guard(a, b) == guard(b, a), guard.__name__


@settings(max_examples=200, deadline=None)
@given(texts, st.sampled_from(["not", "never", "without", "can't", "doesn't", "no"]), st.data())
def test_a_negation_added_on_one_side_is_always_refused(text: str, word: str, data: Any) -> None:
    words = text.split()
    at = data.draw(st.integers(0, len(words)))
    negated = " ".join([*words[:at], word, *words[at:]])
    assert not negation_agrees(negated, text)


@settings(max_examples=200, deadline=None)
@given(texts, st.integers(0, 10**6), st.integers(0, 10**6))
def test_a_changed_number_is_always_refused(text: str, first: int, second: int) -> None:
    if first != second:
        assert not numbers_agree(f"{text} {first} items", f"{text} {second} items")


_SMALL_WORDS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve"]
_VALUES = {word: str(value) for word, value in zip(_SMALL_WORDS, [2, 3, 4, 5, 6, 7, 8, 9, 10, 12])}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_SMALL_WORDS), min_size=2, max_size=4, unique=True),
    st.lists(st.booleans(), min_size=4, max_size=4),
    st.lists(st.booleans(), min_size=4, max_size=4),
    st.data(),
)
def test_numbers_in_words_or_digits_agree_in_order_only(
    numbers: list[str], worded: list[bool], other_worded: list[bool], data: Any
) -> None:
    """Found by review: once either side wrote a number in words, the values were
    compared in any order, so "10 divided by two" was served "2 divided by ten"."""

    def written(values: list[str], in_words: list[bool]) -> str:
        parts = [word if as_word else _VALUES[word] for word, as_word in zip(values, in_words)]
        return "Split " + " by ".join(parts) + " items for the team."

    assert numbers_agree(written(numbers, worded), written(numbers, other_worded))
    order = data.draw(st.permutations(numbers))
    same = order == numbers
    assert numbers_agree(written(order, worded), written(numbers, other_worded)) == same


@settings(max_examples=200, deadline=None)
@given(
    texts,
    st.sampled_from(["24 hours", "30 days", "a week", "two months", "the first year"]),
    st.sampled_from(["within", "up to", "in less than", "under", "no later than"]),
    st.sampled_from(["after", "beyond", "past", "more than", "later than", "over"]),
)
def test_inside_a_stretch_of_time_against_past_it_is_always_refused(
    text: str, stretch: str, inside: str, outside: str
) -> None:
    text += ". Can I do it"  # its own words do not run into the stretch
    within = f"{text} {inside} {stretch}?"
    assert not dates_agree(within, f"{text} {outside} {stretch}?")
    assert dates_agree(within, f"{text} within {stretch}?")
    assert dates_agree(f"{text} {outside} {stretch}?", f"{text} after {stretch}?")
    assert dates_agree(within, f"{text} {stretch} after it?")  # a deadline, as "within"


@settings(max_examples=200, deadline=None)
@given(texts, st.sampled_from(OPPOSITES), st.data())
def test_a_word_swapped_for_its_opposite_is_always_refused(
    text: str, poles: tuple[frozenset[str], ...], data: Any
) -> None:
    one, other = data.draw(st.permutations(range(len(poles))))[:2]
    first = data.draw(st.sampled_from(sorted(poles[one] - poles[other])))
    second = data.draw(st.sampled_from(sorted(poles[other] - poles[one])))
    # a sentence of its own: after "how" or "where" a modal asks how, not whether ("How
    # can I...?" is "How should I...?"), and hypothesis found "How can x" / "How haveto x"
    assert not opposites_agree(f"{text}. {first} x", f"{text}. {second} x")


PERSON_FREE = [w for w in VOCABULARY if w not in ("I", "How", "do", "stops me")]
person_free_texts = st.lists(st.sampled_from(PERSON_FREE), max_size=10).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(
    person_free_texts,
    st.sampled_from(["is", "was", "are", "about"]),
    st.sampled_from([("my", "your"), ("me", "you"), ("mine", "yours"), ("myself", "yourself")]),
)
def test_my_against_your_is_refused_unless_both_are_anyone(
    text: str, before: str, persons: tuple[str, str]
) -> None:
    mine, yours = persons
    assert not persons_agree(f"What {before} {mine} {text}?", f"What {before} {yours} {text}?")
    # "you" after "do", a modal or "if" is anyone, as "I" is there
    for asking in ("How do", "Can", "What if", "Should"):
        assert persons_agree(f"{asking} I {text} {mine}?", f"{asking} you {text} {yours}?")
    # both named on each side, in the other order: who does what to whom changed
    assert not persons_agree(f"Can you {text} {mine}?", f"Can I {text} {yours}?")


@settings(max_examples=200, deadline=None)
@given(
    texts,
    st.sampled_from(["Do I have to", "Will I have to", "Am I required to", "Is it mandatory to"]),
    st.sampled_from(
        ["Should I", "Ought I to", "Can I", "May I", "Am I allowed to", "Is it possible to"]
    )
    | st.sampled_from(["Is it recommended to", "Is it advisable to", "Is it a good idea to"]),
)
def test_an_obligation_against_advice_or_permission_is_always_refused(
    text: str, obliged: str, other: str
) -> None:
    assert not opposites_agree(f"{obliged} {text}?", f"{other} {text}?")
    assert opposites_agree(f"{obliged} {text}?", f"Must I {text}?")
    # a need asked is against permission, not advice ("Do I need to see a doctor?")
    needed = f"Does my landlord need to {text}?"
    assert not opposites_agree(needed, f"Can my landlord {text}?")
    assert opposites_agree(needed, f"Should my landlord {text}?")
    # a need stated asks nothing: "I need to change my order" / "Can you help me change it?"
    assert opposites_agree(f"I need to {text}", f"can you help me {text}?")


@settings(max_examples=200, deadline=None)
@given(
    texts,
    st.sampled_from(["Can I", "May I", "Am I allowed to", "Is it possible to"]),
    st.sampled_from(["Should I", "Ought I to", "Is it recommended to", "Is it a good idea to"]),
)
def test_permission_against_advice_is_always_refused(text: str, allowed: str, advised: str) -> None:
    # "Can I pay by card?" asks what is accepted, "Should I pay by card?" what is wise
    assert not opposites_agree(f"{allowed} {text}?", f"{advised} {text}?")
    assert opposites_agree(f"{allowed} {text}?", f"Can I {text}?")
    assert opposites_agree(f"{advised} {text}?", f"Should I {text}?")


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["pay for parking", "bring my passport", "tell my employer", "sign it"]),
    st.sampled_from(["have to", "need to"]),
    st.sampled_from(["I", "you", "we"]),
    st.booleans(),
)
def test_a_past_obligation_against_the_past_event_is_refused(
    body: str, must: str, person: str, swapped: bool
) -> None:
    # "Did I have to pay?" asks whether it was required, "Did I pay?" whether it happened
    pair = (f"Did {person} {must} {body}?", f"Did {person} {body}?")
    first, second = reversed(pair) if swapped else pair
    assert not opposites_agree(first, second)
    other_must = "need to" if must == "have to" else "have to"
    assert opposites_agree(pair[0], f"Did {person} {other_must} {body}?")
    # asked now, the two are often one question ("Do I pay at the counter?")
    assert opposites_agree(f"Do {person} {must} {body}?", f"Do {person} {body}?")


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["bird", "dog", "rabbit", "patient", "person"]),
    st.sampled_from(["baby", "newborn", "toddler", "pregnant", "child's"]),
    st.sampled_from(["What should I feed a {}?", "How much sleep does a {} need?"]),
)
def test_a_life_stage_named_on_one_side_only_is_always_refused(
    noun: str, stage: str, question: str
) -> None:
    narrowed = question.format(f"{stage} {noun}")
    assert not opposites_agree(narrowed, question.format(noun))
    assert opposites_agree(narrowed, narrowed.replace(noun, f"young {noun}"))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["the museum", "the roads", "the pharmacy", "it", "my flight"]),
    st.sampled_from(["open", "icy", "busy", "late", "the best choice"]),
    st.sampled_from(["", " tomorrow", " on Monday", " this weekend", " in June"]),
)
def test_the_future_against_the_present_is_refused_unless_a_date_says_when(
    subject: str, state: str, when: str
) -> None:
    verb = "are" if subject.endswith("s") else "is"
    present, future = f"{verb} {subject} {state}{when}?", f"Will {subject} be {state}{when}?"
    assert opposites_agree(present, future) == bool(when)
    assert opposites_agree(future, f"Is {subject} going to be {state}{when}?")


GOING_ON = [
    ("rain", "raining"), ("win", "winning"), ("cut", "cutting"), ("rise", "rising"),
    ("die", "dying"), ("work", "working"),
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["it", "the Fed", "my team", "Apple", "the price"]),
    st.sampled_from(GOING_ON),
    st.sampled_from([("ship", "shipping"), ("release", "releasing"), ("leave", "leaving")]),
    st.sampled_from(["", " soon", " again", " rates"]),
)
def test_a_verb_going_on_in_ing_against_will_is_refused_unless_asking_when(
    subject: str, verb: tuple[str, str], arranged: tuple[str, str], rest: str
) -> None:
    bare, ing = verb
    present, future = f"Is {subject} {ing}{rest}?", f"Will {subject} {bare}{rest}?"
    assert not opposites_agree(present, future)
    assert not opposites_agree(present, f"Is {subject} gonna {bare}{rest}?")
    # "When is it arriving?" asks about the future too
    assert opposites_agree(f"When is {subject} {ing}{rest}?", f"When will {subject} {bare}{rest}?")
    # another verb is left to the rest of the rule
    assert opposites_agree(present, f"Will {subject} be{rest}?")
    # what is arranged: "Are you shipping to Canada?" is "Will you ship to Canada?"
    bare, ing = arranged
    assert opposites_agree(f"Is {subject} {ing}{rest}?", f"Will {subject} {bare}{rest}?")


@settings(max_examples=200, deadline=None)
@given(
    person_free_texts,
    st.sampled_from([("my", "your"), ("me", "you"), ("myself", "yourself")]),
    st.sampled_from(["How do I", "Can you", "Tell me how I", "Should you"]),
)
def test_one_person_turned_while_another_stays_is_always_refused(
    text: str, persons: tuple[str, str], opening: str
) -> None:
    mine, yours = persons
    assert not persons_agree(f"{opening} {text} {mine}?", f"{opening} {text} {yours}?")
    # the whole sentence turned is anyone asking ("How do I..." / "How do you...")
    turned = opening.replace(" I", " you") if " I" in opening else opening
    if turned != opening:
        assert persons_agree(f"{opening} {text} {mine}?", f"{turned} {text} {yours}?")
    # so is what follows "how to": "Can you tell me how to reset my / your password?"
    asked = f"Can you tell me how to {text} {mine}?"
    assert persons_agree(asked, f"Can you tell me how to {text} {yours}?")


STRANDED_BODIES = [
    "who is this song",
    "what city did they move",
    "who did she write the letter",
    "what is the cake made",
    "which team does he play",
]


# endings naming other roles: refused however the rest is worded
OPPOSED_ENDINGS = [
    ("from", "to"), ("from", "for"), ("from", "into"), ("against", "with"), ("against", "to"),
    ("about", "with"),
]  # fmt: skip
# refused where nothing else differs ("work with / for", "about / for", "mix it with /
# in", "sit in / on", "known as / for", "hidden in / under"; not "lose to" / "beaten by")
ALONE_ENDINGS = [
    ("by", "to"), ("by", "for"), ("with", "to"), ("with", "for"), ("of", "to"), ("about", "for"),
    ("with", "in"), ("in", "on"), ("like", "for"), ("through", "with"), ("at", "on"),
    ("as", "for"), ("under", "in"),
]  # fmt: skip
# alternating freely ("made of / from", "meant for / addressed to", "translated to / into",
# "put it in / into", "a story of / about", "taste like / of", "angry at / about", "work
# for / at", "bank with / at", "fly with / on", "suffer from / with", "protect against /
# from", "fight over / about")
ALIKE_ENDINGS = [
    ("of", "from"), ("to", "for"), ("to", "into"), ("to", "towards"), ("in", "into"),
    ("about", "of"), ("like", "of"), ("at", "about"), ("on", "onto"), ("at", "for"),
    ("with", "at"), ("with", "on"), ("with", "from"), ("against", "from"), ("over", "about"),
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(STRANDED_BODIES),
    st.sampled_from(STRANDED_BODIES),
    st.sampled_from(OPPOSED_ENDINGS + ALONE_ENDINGS + ALIKE_ENDINGS),
    st.booleans(),
    st.sampled_from(["?", "", " ?"]),
)
def test_a_question_ending_on_a_preposition_of_another_role_is_refused(
    body: str, other_body: str, endings: tuple[str, str], swapped: bool, end: str
) -> None:
    first, second = reversed(endings) if swapped else endings
    same_words = roles_agree(f"{body} {first}{end}", f"{body} {second}{end}")
    assert same_words == (endings in ALIKE_ENDINGS)
    if endings in OPPOSED_ENDINGS:
        assert not roles_agree(f"{body} {first}{end}", f"{other_body} {second}?")
    assert roles_agree(f"{body} {first}{end}", f"{body.capitalize()} {first}?")
    contracted = body.replace("who is", "who's")
    assert roles_agree(f"{contracted} {first}{end}", f"{body} {second}{end}") == same_words


# a preposition a question ends on, left out on the other side: what it asks changes
# ("Where is this wine from?" / "Where is this wine?", "Who is it for?" / "Who is it?"),
# or not ("Where are you going (to)?", "What country do you live (in)?")
# "What did she invest (in)?" changes too: free only after where, when, or what or which
# thing ("What city did they move (to)?")
CHANGING_ENDINGS = ["from", "for", "with", "by", "of", "about", "like", "through", "against"]
FREE_ENDINGS = ["to", "towards", "into", "in", "on", "onto", "at", "over"]
ASKING_WHICH = ["what city did they move", "which team does he play", "where is this wine",
                "whose gift is this", "when is it due"]  # fmt: skip
NOT_ASKING_WHICH = ["what can I pay", "what else did she invest"]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(STRANDED_BODIES + ASKING_WHICH[2:] + NOT_ASKING_WHICH),
    st.sampled_from(CHANGING_ENDINGS + FREE_ENDINGS),
    st.booleans(),
    st.sampled_from(["?", "", " ?"]),
    st.sampled_from(["", "When the market crashed, ", "If it rains; "]),
)
def test_a_question_ending_on_a_preposition_the_other_leaves_out_is_refused_if_it_asks(
    body: str, ending: str, swapped: bool, end: str, leading: str
) -> None:
    # a clause before the question ("When the market crashed, what did she invest (in)?")
    # does not make it ask when
    short = f"{leading}{body}{end}" if leading else f"{body.capitalize()}{end}"
    pair = (f"{leading}{body} {ending}{end}", short)
    first, second = reversed(pair) if swapped else pair
    assert roles_agree(first, second) == (ending in FREE_ENDINGS and body in ASKING_WHICH)
    # a text with no question word asks nothing
    assert roles_agree(f"tell me the {ending}", "tell me the")
    # leaving, "from" names where from: "Which gate does the flight leave (from)?"; after
    # "how long", "how many minutes", "how much time", "for" names the time asked
    assert roles_agree(f"{body} leave from{end}", f"{body} leave{end}")
    for asking in ("how long is", "how many minutes is", "how much time is"):
        assert roles_agree(f"{asking} {body} for{end}", f"{asking} {body}{end}")


# a particle that makes another verb ("shut down", "pay off"), and one that only finishes
# it ("clean up", "calm down", "print out")
CHANGING_PARTICLES = [
    ("shut", "down"),
    ("pay", "off"),
    ("roll", "back"),
    ("log", "out"),
    ("set", "up"),
    ("give", "away"),
    ("take", "out"),
    ("turn", "off"),
]
FINISHING_PARTICLES = [("clean", "up"), ("calm", "down"), ("print", "out"), ("dry", "off"),
                       ("wipe", "down"), ("put", "away"), ("tidy", "up")]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(CHANGING_PARTICLES + FINISHING_PARTICLES),
    # a word of the finishing lists that is not the particle's verb changes nothing
    st.sampled_from(["my server", "the test users", "the cooling fan", "a free website", "it"]),
    st.sampled_from(["How do I", "Can I", "Why should I", "Is it safe to"]),
    st.sampled_from(["ing", "", "s"]),
    st.booleans(),
    st.booleans(),
)
def test_a_particle_on_one_side_only_is_refused_unless_it_only_finishes_the_verb(
    verb_particle: tuple[str, str], thing: str, asking: str, ending: str, after: bool, swap: bool
) -> None:
    verb, particle = verb_particle
    verb += ending if ending != "ing" else ("ting" if verb[-1] == "t" else "ing")
    phrased = (
        f"{asking} {verb} {thing} {particle}?" if after else f"{asking} {verb} {particle} {thing}?"
    )
    pair = (phrased, f"{asking} {verb} {thing}?")
    first, second = reversed(pair) if swap else pair
    assert particles_agree(first, second) == (verb_particle in FINISHING_PARTICLES)
    # the particle on both sides, wherever it sits, is no particle on one side only
    moved = (
        f"{asking} {verb} {thing} {particle}?"
        if not after
        else f"{asking} {verb} {particle} {thing}?"
    )
    assert particles_agree(phrased, moved)
    # more than the particle differs: other guards and the embeddings decide
    assert particles_agree(phrased, f"{asking} {verb} {thing} today?")
    # a distance is no particle: "How far away is the nearest gas station?"
    assert particles_agree(f"How far {particle} is {thing}?", f"How far is {thing}?")


QUESTION_BODIES = [
    "did Marie Curie die",
    "do I renew my passport",
    "should I plant tulip bulbs",
    "does the museum open",
    "can I park near the station",
    "do bees make honey",
]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(QUESTION_BODIES),
    st.permutations(["how", "when", "where", "who"]),
    st.booleans(),
)
def test_one_question_word_swapped_for_another_kind_is_always_refused(
    text: str, kinds: list[str], capitalised: bool
) -> None:
    first, second = (k.capitalize() if capitalised else k for k in kinds[:2])
    how_to = set(kinds[:2]) == {"where", "how"} and text.split()[1] in ("I", "you", "we")
    # "Where do I renew my passport?" asks how to, as "How do I...?" does
    assert question_words_agree(f"{first} {text}?", f"{second} {text}?") == how_to
    assert question_words_agree(f"What {text}?", f"Which {text}?")  # alike


TENSE_BODIES = ["I renew my passport", "the museum open", "a ticket cost", "the store sell",
                "I leave the oven on", "bees make honey"]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(TENSE_BODIES),
    st.sampled_from(
        ["", "when ", "how much ", "why ", "what time ", "what kind of music ", "how many times "]
    ),
    st.sampled_from(["do", "does", "don't", "doesn\u2019t"]),
    st.booleans(),
)
def test_a_question_in_the_present_against_one_about_the_past_is_always_refused(
    body: str, asking: str, present: str, swapped: bool
) -> None:
    past = "didn't" if present.endswith("t") else "did"  # "Why doesn't / didn't it work?"
    pair = (f"{asking}{present} {body}?".capitalize(), f"{asking}{past} {body}?".capitalize())
    first, second = reversed(pair) if swapped else pair
    assert not opposites_agree(first, second)  # "When does / did the store open?"
    # "do" and "did" that ask nothing: "Things to do in Paris" / "Things I did in Paris"
    assert opposites_agree(f"Things to do with {body}", f"Things I did with {body}")


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [
            ("How do I get a refund", "How can I get a refund"),
            ("What documents do I need", "What documents are needed"),
            ("Who do I contact", "Who should I contact"),
            ("Where does it get reported", "Where is it reported"),
        ]
    ),
    st.sampled_from(
        [
            "my card was stolen",
            "my flight was cancelled",
            "the bank was closed",
            "the parcel didn't arrive",
            "the charge went through twice",
        ]
    ),
    st.sampled_from(["if", "when", "since", "after", "because"]),
    st.sampled_from(["if", "when", "since", "after", "because"]),
)
def test_a_past_event_in_a_clause_is_not_the_question_asking_about_the_past(
    mains: tuple[str, str], event: str, one: str, other: str
) -> None:
    # "How do I get a refund when my order was cancelled?" asks now, as "How can I...?"
    # ("... when I was overcharged" is still read as asking: one word after a question
    # word mid-sentence asks, as in "In which year was the wall torn down?")
    assert opposites_agree(f"{mains[0]} {one} {event}?", f"{mains[1]} {other} {event}?")
    assert opposites_agree(f"{mains[1]} {one} {event}?", f"{mains[0]} {other} {event}?")
    # nor after a question word that opens the sentence, where a clause opens first
    assert opposites_agree(f"What do I do {one} {event}?", f"What {other} {event}?")


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["bring my passport", "pay tax on it", "tell my employer", "sign it"]),
    st.sampled_from(["need to", "have to"]),
    st.sampled_from(["", "why ", "when "]),
    st.booleans(),
)
def test_an_obligation_asked_now_against_one_asked_of_the_past_is_refused(
    body: str, must: str, asking: str, swapped: bool
) -> None:
    # "Do / Did I need to...?": "did" is read inside "need to" as well
    pair = (
        f"{asking}do I {must} {body}?".capitalize(),
        f"{asking}did I {must} {body}?".capitalize(),
    )
    first, second = reversed(pair) if swapped else pair
    assert not opposites_agree(first, second)
    assert opposites_agree(f"Did I {must} {body}?", f"Did we {must} {body}?")  # same tense


@settings(max_examples=200, deadline=None)
@given(
    texts,
    st.sampled_from(["will", "shall", "I'll", "you\u2019ll", "is it going to rain", "gonna"]),
    st.sampled_from(
        ["Was", "Were", "Did", "When did", "How much was", "Has it been", "What have we done"]
    ),
)
def test_the_future_against_a_question_about_the_past_is_always_refused(
    text: str, future: str, past: str
) -> None:
    assert not opposites_agree(f"{future} {text}?", f"{past} {text}?")
    # the past told, not asked: "My flight was cancelled, will I get compensation?"
    assert opposites_agree(f"My x was y, {future} {text}?", f"{future} {text}?")


NOUNS = ["stress", "sleep", "the manager", "my landlord", "Caesar", "cancer cells", "diet"]
VERBS = [
    ("affect", "affects", "affected"), ("kill", "kills", "killed"), ("own", "owns", "owned"),
    ("cause", "causes", "caused"), ("write", "writes", "written"), ("pay", "pays", "paid"),
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(NOUNS), st.sampled_from(NOUNS), st.sampled_from(VERBS))
def test_the_passive_with_the_doer_swapped_is_refused_and_kept_is_served(
    doer: str, done_to: str, verb: tuple[str, str, str]
) -> None:
    base, third_person, participle = verb
    if doer == done_to:
        return
    active = f"How does {doer} {base} {done_to}?"
    assert roles_agree(active, f"How is {done_to} {participle} by {doer}?")
    assert not roles_agree(active, f"How is {doer} {participle} by {done_to}?")
    assert not roles_agree(f"Who {third_person} {done_to}?", f"Who did {done_to} {base}?")
    assert roles_agree(f"Who did {done_to} {base}?", f"Who was {participle} by {done_to}?")


OWNERS = ["landlord", "boss", "ex", "neighbor", "roommate", "sister", "employer"]
ACTS = [("track", "tracks"), ("read", "reads"), ("hit", "hits"), ("sue", "sues"), ("call", "calls")]
THINGS = ["phone", "car", "messages", "email", "bank account"]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(OWNERS), st.sampled_from(ACTS), st.sampled_from(THINGS))
def test_the_owner_of_what_is_acted_on_acting_is_refused(
    owner: str, verb: tuple[str, str], thing: str
) -> None:
    base, third_person = verb
    owned = f"Can I {base} my {owner}'s {thing}?"
    assert not roles_agree(owned, f"Can my {owner} {base} my {thing}?")
    assert not roles_agree(
        f"What if my {owner} {third_person} my {thing}?", f"What if I {base} my {owner}'s {thing}?"
    )
    # the same roles told another way: no swap
    assert roles_agree(owned, f"Am I allowed to {base} my {owner}'s {thing}?")
    assert roles_agree(owned, f"Can I {base} the {thing} of my {owner}?")
    # "what's" is "what is": no owner
    assert roles_agree(
        f"Can you tell me what's my {owner}'s {thing}?", f"What is my {owner}'s {thing}?"
    )
    assert roles_agree(
        "Can you tell me what's the capital of France?",
        "What can you tell me about the capital of France?",
    )


@settings(max_examples=200, deadline=None)
@given(texts, st.sampled_from(KINDS), st.data())
def test_two_kinds_of_a_closed_class_swapped_are_always_refused(
    text: str, group: tuple[frozenset[str], ...], data: Any
) -> None:
    first, second = data.draw(st.permutations(range(len(group))))[:2]
    one = data.draw(st.sampled_from(sorted(group[first])))
    other = data.draw(st.sampled_from(sorted(group[second])))
    text += " in Python" if group is KINDS[CODE_KINDS] else ""  # data types: about code
    assert not kinds_agree(f"{text} {one} x", f"{text} {other} x")
    assert not passes(DEFAULT_GUARDS, f"{text} {one} x", f"{text} {other} x")


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["shipping", "delivery", "a refund", "the ferry", "my visa"]),
    st.sampled_from(["does", "will", "did", "can", "would"]),
)
def test_how_long_before_a_verb_is_a_duration_one_kind_with_speed(thing: str, aux: str) -> None:
    duration = f"How long {aux} {thing} take?"
    assert kinds_agree(duration, f"How fast is {thing}?")
    assert not kinds_agree(duration, f"What is the length of {thing}?")
    assert not kinds_agree(duration, f"How heavy is {thing}?")
    # "How long is the flight?" may ask a length or a duration: no kind of its own
    assert kinds_agree(f"How long is {thing}?", duration)
    assert kinds_agree(f"How long is {thing}?", f"What is the distance of {thing}?")


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["Python", "a crocodile", "tea", "the flu"]), st.sampled_from(
    ["Java", "an alligator", "coffee", "a cold"]))  # fmt: skip
def test_what_two_things_have_in_common_is_not_how_they_differ(one: str, other: str) -> None:
    likeness = f"What do {one} and {other} have in common?"
    assert not kinds_agree(f"What's the difference between {one} and {other}?", likeness)
    assert kinds_agree(f"What are the similarities between {one} and {other}?", likeness)


@settings(max_examples=200, deadline=None)
@given(texts, st.data())
def test_data_types_swapped_outside_code_are_not_kinds(text: str, data: Any) -> None:
    """ "a list of synonyms" / "the dictionary's synonyms": everyday words, not types."""
    first, second = data.draw(st.permutations(range(len(KINDS[CODE_KINDS]))))[:2]
    one = data.draw(st.sampled_from(sorted(KINDS[CODE_KINDS][first])))
    other = data.draw(st.sampled_from(sorted(KINDS[CODE_KINDS][second])))
    assert kinds_agree(f"{text} {one} x", f"{text} {other} x")
    assert not kinds_agree(f"{text} {one} x in Java", f"{text} {other} x in Java")


ENDS = ["string", "int", "euros", "dollars", "pdf", "docx", "celsius", "kelvin", "json"]
# context without connectors or end words: a context that repeats an end is ambiguous
undirected = st.lists(
    st.sampled_from(
        [w for w in VOCABULARY if not {"to", "from", "into", *ENDS} & set(w.lower().split())]
    ),
    max_size=14,
).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(undirected, undirected, st.sampled_from(ENDS), st.sampled_from(ENDS))
def test_a_reversed_direction_is_refused_and_the_same_one_served(
    before: str, other_before: str, source: str, target: str
) -> None:
    if source == target:
        return
    forward = f"{before} convert {source} to {target}"
    assert order_agrees(forward, f"{other_before} get {target} from {source}")
    assert order_agrees(forward, f"{other_before} turn {source} into {target}")
    assert not order_agrees(forward, f"{other_before} get {source} from {target}")
    assert not order_agrees(forward, f"{other_before} turn {target} into {source}")


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["Ireland", "Austria", "Sweden", "Java", "Celsius", "Oslo"]),
    st.sampled_from(["Iceland", "Australia", "Switzerland", "JavaScript", "Kelvin", "Osaka"]),
    texts,
)
def test_a_capitalised_name_swapped_mid_sentence_is_always_refused(
    name: str, other: str, text: str
) -> None:
    assert not names_agree(f"Tell me about {name} {text}", f"Tell me about {other} {text}")


def test_guards_see_the_differing_sentences_not_the_shared_template() -> None:
    seen: list[tuple[str, str]] = []

    def recording(new: str, stored: str) -> bool:
        seen.append((new, stored))
        return True

    template = "Context: our shop opens at 9 on Monday.\nQuestion: {q}\nAnswer:"
    verdict = query_verdict(
        template.replace("{q}", "How tall is it?"),
        template.replace("{q}", "What is its height?"),
        (recording,),
    )
    assert seen == [("How tall is it?", "What is its height?")]
    assert verdict == ("How tall is it?", "What is its height?")


def test_check_guards_takes_iterables_of_callables_and_refuses_the_rest() -> None:
    assert check_guards(None) == DEFAULT_GUARDS
    assert check_guards(()) == ()
    assert check_guards([numbers_agree]) == (numbers_agree,)
    assert check_guards(g for g in (dates_agree,)) == (dates_agree,)
    flexible = (lambda *texts: True, lambda new, stored, extra=None: True, max)
    assert check_guards(flexible) == flexible  # two positional arguments bind (max: builtin)
    for bad, needle in [
        (numbers_agree, "iterable of callables"),  # a bare callable, not wrapped
        ("numbers", "iterable of callables"),
        (42, "iterable of callables"),
        ([numbers_agree, "x"], r"guards\[1\] must be callable"),
        ([lambda new: True], r"guards\[0\] must be callable\(new, stored\)"),  # one argument
        ([numbers_agree, lambda a, b, c: True], r"guards\[1\]"),
    ]:
        with pytest.raises(InvalidArgumentError, match=needle):
            check_guards(bad)


# --- in the caches -------------------------------------------------------------------------

OPEN = "Is the museum open on Monday?"
CLOSED = "Is the museum closed on Monday?"


def prompt(text: str) -> Prompt:
    return Prompt(exact=text, context="", query=text)


def test_response_cache_guards_are_on_by_default_and_off_with_an_empty_tuple() -> None:
    # threshold 0.3: the lexical embedder puts the two questions well above it
    guarded = ResponseCache(threshold=0.3)
    unguarded = ResponseCache(threshold=0.3, guards=())
    for cache in (guarded, unguarded):
        cache.update(prompt(OPEN), "model", "Yes, 9 to 5.")
    assert guarded.lookup(prompt(CLOSED), "model") is None
    assert unguarded.lookup(prompt(CLOSED), "model") == "Yes, 9 to 5."  # the wrong answer
    assert guarded.lookup(prompt(OPEN), "model") == "Yes, 9 to 5."  # exact hits unaffected
    assert guarded.stats().misses == 1 and guarded.stats().exact_hits == 1


async def test_custom_guards_decide_semantic_hits_sync_and_async() -> None:
    def no_refunds(new: str, stored: str) -> bool:
        return ("refund" in new) == ("refund" in stored)

    cache = ResponseCache(threshold=0.3, guards=(*DEFAULT_GUARDS, no_refunds))
    cache.update(prompt("How do I cancel my order?"), "m", "Use the orders page.")
    assert cache.lookup(prompt("How do I cancel my order quickly?"), "m") is not None
    assert cache.lookup(prompt("How do I cancel my order for a refund?"), "m") is None
    assert await cache.alookup(prompt("How do I cancel my order for a refund?"), "m") is None
    assert await cache.alookup(prompt("How do I cancel my order quickly?"), "m") is not None


def test_a_guard_that_raises_reaches_the_caller() -> None:
    class Broken(Exception):
        pass

    def broken(new: str, stored: str) -> bool:
        raise Broken(new)

    cache = ResponseCache(threshold=0.3, guards=(broken,))
    cache.update(prompt(OPEN), "m", "yes")
    with pytest.raises(Broken):
        cache.lookup(prompt("Is the museum open on Mondays?"), "m")


def test_the_langchain_cache_takes_guards_and_refuses_bad_ones_at_construction() -> None:
    with pytest.raises(InvalidArgumentError, match="guards"):
        LangChainCache(guards=42)  # type: ignore[arg-type]
    cache = LangChainCache(threshold=0.3)
    llm = FakeListLLM(responses=["Yes, 9 to 5.", "No, closed."])
    from langchain_core.globals import set_llm_cache

    set_llm_cache(cache)
    try:
        assert llm.invoke(OPEN) == "Yes, 9 to 5."
        assert llm.invoke(CLOSED) == "No, closed."  # guarded: the model was asked
        unguarded = LangChainCache(threshold=0.3, guards=())
        set_llm_cache(unguarded)
        llm = FakeListLLM(responses=["Yes, 9 to 5.", "No, closed."])
        assert llm.invoke(OPEN) == "Yes, 9 to 5."
        assert llm.invoke(CLOSED) == "Yes, 9 to 5."  # what guards exist to stop
    finally:
        set_llm_cache(None)


def test_the_llama_index_wrapper_takes_guards_and_refuses_bad_ones_first() -> None:
    from llama_index.core.llms import MockLLM

    from semcache_core import SemCache
    from semcache_integrations.llama_index import SemCacheLLM

    engine = SemCache()
    with pytest.raises(InvalidArgumentError, match="guards"):
        SemCacheLLM(MockLLM(), cache=engine, guards=[object()])
    assert engine.namespaces() == []
    llm = SemCacheLLM(MockLLM(), cache=engine, threshold=0.3, guards=())
    first = llm.complete(OPEN).text
    assert llm.complete(CLOSED).text == first  # no guards: served
    guarded = SemCacheLLM(MockLLM(), cache=SemCache(), threshold=0.3)
    guarded.complete(OPEN)
    assert guarded.stats().misses == 1
    guarded.complete(CLOSED)
    assert guarded.stats().misses == 2 and guarded.stats().semantic_hits == 0


def test_calibrate_refuses_bad_guards() -> None:
    with pytest.raises(InvalidArgumentError, match="guards"):
        calibrate([("a", "b", True), ("a", "c", False)], None, guards=7)


@pytest.mark.parametrize(
    "new",
    [
        "How do I reset my password? Also, how do I delete my account?",
        "How do I reset my password?\nAlso how do I delete my account?",
        "How do I reset my password? I am in a hurry.",
    ],
)
def test_a_question_with_a_sentence_added_is_never_served(new: str) -> None:
    stored = "How do I reset my password?"
    assert query_verdict(new, stored, ()) is False  # whatever the guards and the threshold
    assert query_verdict(stored, new, ()) is False


@settings(max_examples=100, deadline=None)
@given(
    acronym=st.text(alphabet="ABCDEFGHIJKLMNOPQRTUVWXYZ", min_size=2, max_size=5),
    name=st.text(alphabet="abcdefghijklmnopqrtuvwxyz", min_size=3, max_size=8),
)
def test_an_acronyms_final_s_is_a_letter_not_a_plural(acronym: str, name: str) -> None:
    """HTTP and HTTPS counted as one name (a plural S stripped), so the default cache served
    the port of HTTP for HTTPS."""
    assert not names_agree(f"The default port for {acronym}?", f"The default port for {acronym}S?")
    assert names_agree(f"List the {acronym}s here", f"List the {acronym} here")  # "APIs"
    capitalised = name.capitalize()
    assert names_agree(f"Open on {capitalised}s?", f"Open on {capitalised}'s?")
